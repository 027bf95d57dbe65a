"""The operator command line: `crm run`, imports, keys, runs."""
