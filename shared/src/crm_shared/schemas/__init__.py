"""The wire contract: request and response schemas every service and client agrees on."""
