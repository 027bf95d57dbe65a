"""A deterministic synthetic shop for demos, tests and benchmarks.

The same seed (and end date) always gives the same shop. The structure is planted so
tests can assert that it is found again:

- customers come in groups (country, locale, tags, consent rates);
- each buyer has a persona (`loyal`, `regular`, `lapsed`, `one_off`, `browser`) with a
  purchase rate and a chance to drop out after each order, as in the BG/NBD model, and
  1-2 favourite top-level categories that most of their orders and views come from;
- order times follow a weekly rhythm (weekends busiest) and a yearly one (November and
  December peak, July and August dip);
- some product pairs are bought together far more often than chance;
- ratings follow each product's hidden quality; interactions precede purchases.

Everything is made of plain dicts shaped like the bulk APIs' rows (strings for amounts
and times), with customers named by their `external_ref` in `customer_ref`.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from bisect import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

FIRST_NAMES = (
    "Ada Alan Amara Anna Ben Carla Chen Clara David Elena Emil Eva Felix Fatima Grace Hana "
    "Hugo Ines Ivan Jana Jonas Julia Kai Lara Leon Lina Luca Maria Mateo Mia Nina Noah Olga "
    "Omar Paul Priya Rosa Sam Sara Sofia Tom Uma Vera Yusuf Zoe"
).split()
LAST_NAMES = (
    "Adams Bauer Becker Brown Costa Dubois Fischer Garcia Hansen Ito Jensen Kim Klein Kowalski "
    "Lee Lopez Martin Meyer Moreau Muller Nagy Novak Olsen Petit Rossi Santos Schmidt Silva "
    "Smith Tanaka Taylor Wagner Weber Wilson Young Zimmermann"
).split()
STREETS = "Main Street|Oak Avenue|Station Road|Market Square|Lindenweg|Rue de la Paix".split("|")

# Planted groups: where customers live, and how they behave towards marketing.
GROUPS: tuple[dict[str, Any], ...] = (
    {"country": "DE", "locale": "de-DE", "city": "Berlin", "email_consent": 0.7, "weight": 0.35},
    {"country": "FR", "locale": "fr-FR", "city": "Lyon", "email_consent": 0.5, "weight": 0.2},
    {"country": "GB", "locale": "en-GB", "city": "Leeds", "email_consent": 0.6, "weight": 0.25},
    {"country": "US", "locale": "en-US", "city": "Austin", "email_consent": 0.4, "weight": 0.2},
)
TAGS = ("newsletter", "vip", "wholesale", "b2b", "gift-buyer", "student")


def customers(count: int, seed: int = 42) -> Iterator[dict[str, Any]]:
    """`count` customers as CustomerCreate-shaped dicts, each with a unique email and ref."""
    rng = random.Random(seed)
    weights = [group["weight"] for group in GROUPS]
    for n in range(count):
        group = rng.choices(GROUPS, weights)[0]
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        tags = sorted({rng.choice(TAGS) for _ in range(rng.randint(0, 2))})
        yield {
            "external_ref": f"shop-{seed}-{n:07d}",
            "email": f"{first}.{last}.{n}@example.com".lower(),
            "first_name": first,
            "last_name": last,
            "phone": f"+{rng.randint(30, 49)}{rng.randint(100_000_000, 999_999_999)}",
            "address": {
                "line1": f"{rng.randint(1, 200)} {rng.choice(STREETS)}",
                "city": group["city"],
                "postal_code": f"{rng.randint(10_000, 99_999)}",
                "country": group["country"],
            },
            "locale": group["locale"],
            "tags": tags,
            "consents": [
                {
                    "channel": "email",
                    "granted": rng.random() < group["email_consent"],
                    "source": "signup",
                }
            ],
        }


# The catalogue: top-level category -> subcategory -> (nouns, features, price range).
# Names and descriptions reuse each subcategory's vocabulary, so text similarity groups
# a product with its neighbours.
_CATALOGUE_TEXT = """
electronics/audio 19-399
headphones, earbuds, speaker, soundbar, turntable
wireless bluetooth, active noise cancelling, deep bass drivers, 30 hour battery, stereo sound

electronics/cameras 29-1299
camera, action camera, lens, tripod, camera bag
4k video recording, image stabilisation, weather sealed body, fast autofocus, lens mount

electronics/computing 15-599
laptop stand, keyboard, mouse, monitor, usb-c hub
mechanical switches, ergonomic design, usb-c charging, high refresh panel, multi-device pairing

home/kitchen 12-249
chef knife, frying pan, cutting board, coffee grinder, saucepan
forged stainless steel, non-stick coating, dishwasher safe, induction ready base, ergonomic handle

home/furniture 49-899
armchair, side table, bookshelf, desk, floor lamp
solid oak frame, easy assembly, scandinavian design, linen upholstery, powder coated steel legs

home/bedding 15-199
duvet cover, pillow, fitted sheet, blanket, mattress topper
organic cotton percale, breathable weave, hypoallergenic filling, machine washable, memory foam

fashion/shoes 35-220
sneakers, running shoes, boots, sandals, loafers
cushioned midsole, leather upper, breathable mesh, slip resistant outsole, lightweight foam

fashion/outerwear 45-420
rain jacket, parka, puffer vest, wool coat, windbreaker
waterproof membrane, recycled down fill, adjustable hood, taped seams, packable design

fashion/accessories 12-180
backpack, wallet, belt, scarf, sunglasses
vegetable tanned leather, rfid blocking, polarised lenses, merino wool knit, padded laptop sleeve

sports/fitness 10-250
yoga mat, dumbbell set, resistance bands, kettlebell, foam roller
non-slip surface, adjustable weight, home workout, high density foam, cast iron core

sports/cycling 9-190
bike helmet, bike light, cycling gloves, water bottle, saddle bag
rechargeable led, aerodynamic shell, gel padded palms, insulated double wall, quick release mount

sports/outdoor 15-480
tent, sleeping bag, hiking poles, camping stove, headlamp
ultralight ripstop nylon, three season rating, carbon fibre shafts, windproof burner, waterproof

beauty/skincare 8-90
face cream, serum, cleanser, sunscreen, eye cream
hyaluronic acid, vitamin c, fragrance free formula, spf 50 protection, dermatologist tested

beauty/haircare 7-160
shampoo, conditioner, hair oil, hair dryer, styling brush
sulphate free, argan oil, ionic technology, colour protection, heat protection

beauty/fragrance 15-140
eau de parfum, eau de toilette, body mist, scented candle, perfume oil
notes of bergamot, warm amber base, fresh citrus accord, long lasting, floral heart of jasmine

books/fiction 8-30
novel, thriller, short stories, fantasy saga, crime mystery
bestselling author, paperback edition, award winning, page turning plot, first of a trilogy

books/cooking 12-45
cookbook, baking book, vegetarian recipes, bread book, spice guide
step by step photos, seasonal recipes, weeknight dinners, sourdough techniques, plant based dishes

books/travel 9-35
travel guide, city guide, road atlas, hiking guide, phrasebook
updated maps, insider tips, day trip itineraries, trail descriptions, pocket size

toys/building 15-160
building set, construction kit, marble run, magnetic tiles, robot kit
stem learning, ages 6 and up, compatible bricks, hundreds of pieces, programmable motor

toys/games 9-70
board game, card game, puzzle, strategy game, party game
two to six players, family game night, 1000 piece, cooperative play, quick to learn

toys/plush 8-45
teddy bear, plush rabbit, soft toy, hand puppet, plush dinosaur
extra soft fabric, baby safe, machine washable, hand stitched, cuddly companion

garden/tools 9-120
pruning shears, garden spade, rake, watering can, hose reel
hardened steel blade, ash wood handle, rust resistant, telescopic shaft, ergonomic grip

garden/plants 6-60
seed kit, herb planter, bulb collection, succulent set, tomato plants
organic seeds, easy to grow, indoor or outdoor, flowering in spring, starter compost included

garden/outdoor living 19-450
garden chair, parasol, fire pit, string lights, planter box
weatherproof finish, acacia hardwood, solar powered, uv resistant canopy, foldable frame
"""


@dataclass(frozen=True)
class Subcategory:
    top: str
    name: str
    nouns: tuple[str, ...]
    features: tuple[str, ...]
    low: int  # price range, whole euros
    high: int


def _subcategories() -> tuple[Subcategory, ...]:
    found = []
    for block in _CATALOGUE_TEXT.strip().split("\n\n"):
        heading, nouns, features = block.splitlines()
        path, prices = heading.rsplit(" ", 1)
        top, name = path.split("/")
        low, high = prices.split("-")
        found.append(
            Subcategory(
                top,
                name,
                tuple(nouns.split(", ")),
                tuple(features.split(", ")),
                int(low),
                int(high),
            )
        )
    return tuple(found)


SUBCATEGORIES = _subcategories()
BRANDS: dict[str, tuple[str, ...]] = {
    "electronics": ("Voltra", "Sonique", "Pixelon", "Nordtek"),
    "home": ("Hearthwood", "Casa Linn", "Oakhaus", "Maison Bleu"),
    "fashion": ("Urban Fox", "Nordkap", "Velora", "Stride & Co"),
    "sports": ("Peakline", "Kinetik", "Trailborn", "Aerofit"),
    "beauty": ("Lumea", "Verdance", "Aurelle", "Pure Botanik"),
    "books": ("Inkwell Press", "Longleaf Books", "Meridian", "Papertrail"),
    "toys": ("Brickwise", "Playnest", "Tiny Giants", "Wonderloop"),
    "garden": ("Greenthumb", "Terrafina", "Bloomfield", "Wildroot"),
}
ADJECTIVES = (
    "classic",
    "compact",
    "premium",
    "essential",
    "pro",
    "lite",
    "deluxe",
    "everyday",
    "signature",
    "studio",
)
COLOURS = ("black", "white", "grey", "navy", "green", "red", "sand", "oak")
CURRENCY = "EUR"

# Weekly and yearly rhythm of orders: a multiplier by weekday (Monday first) and by month.
WEEKDAY_FACTOR = (1.0, 0.95, 0.9, 0.95, 1.05, 1.2, 1.4)
MONTH_FACTOR = (0.9, 0.8, 0.9, 0.95, 0.95, 0.9, 0.75, 0.75, 0.95, 1.0, 1.5, 1.7)
_SEASON_MAX = max(WEEKDAY_FACTOR) * max(MONTH_FACTOR)
# Evenings are busiest.
HOUR_WEIGHTS = (
    1,
    1,
    1,
    1,
    1,
    1,
    2,
    3,
    4,
    5,
    6,
    6,
    7,
    6,
    6,
    6,
    6,
    7,
    9,
    11,
    12,
    10,
    6,
    3,
)

# Personas: share of customers, purchase rate (orders per day while active), the chance
# to leave after each order, and when in the window the first order falls (fraction).
PERSONAS: dict[str, dict[str, float]] = {
    "loyal": {"share": 0.15, "rate": 1 / 30, "dropout": 0.01, "first_by": 0.5},
    "regular": {"share": 0.25, "rate": 1 / 90, "dropout": 0.06, "first_by": 0.7},
    "lapsed": {"share": 0.22, "rate": 1 / 40, "dropout": 0.25, "first_by": 0.35},
    "one_off": {"share": 0.28, "rate": 0.0, "dropout": 1.0, "first_by": 1.0},
    "browser": {"share": 0.10, "rate": 0.0, "dropout": 1.0, "first_by": 1.0},
}
# Lapsed customers order nothing in the last part of the window.
LAPSED_UNTIL = 0.6
BROWSING_SESSIONS = {"loyal": 4, "regular": 3, "lapsed": 2, "one_off": 1, "browser": 3}
LINE_COUNTS = (1, 2, 3, 4)
LINE_COUNT_CUMULATIVE = (0.5, 0.78, 0.92)  # half the orders have one line
PARTIAL_REFUND_SHARE = 0.003  # of delivered orders, one unit of one line sent back
SALE_DISCOUNT = Decimal("0.15")
CENT = Decimal("0.01")
DAY = 86_400

REVIEW_OPENINGS = {
    1: ("Disappointed.", "Would not buy again.", "Broke after a week."),
    2: ("Not great.", "Below expectations.", "Does the job, barely."),
    3: ("It is fine.", "Average for the price.", "Okay, nothing special."),
    4: ("Very good.", "Happy with it.", "Good value."),
    5: ("Excellent!", "Love it.", "Exactly what I wanted."),
}
TICKETS = (
    ("complaint", "Parcel arrived damaged", "The box was crushed and the {product} is broken."),
    ("inquiry", "Where is my order?", "I ordered a {product} last week and have no tracking."),
    ("inquiry", "Size question", "Does the {product} run small? I usually take a medium."),
    ("feedback", "Great service", "The {product} arrived a day early. Thank you!"),
    ("complaint", "Refund still pending", "I sent the {product} back two weeks ago."),
)


@dataclass(frozen=True)
class CustomerProfile:
    """The planted truth about one customer: what the analytics should find again."""

    persona: str
    favourite_categories: tuple[str, ...]
    purchase_rate: float  # orders per day while active
    dropout: float  # chance to stop buying after each order


@dataclass(frozen=True)
class RefundPlan:
    """Units of an order's lines sent back after delivery (a partial refund)."""

    key: str
    order_ref: str
    lines: list[tuple[int, int]]  # (line_number, quantity)


@dataclass
class Shop:
    seed: int
    start: dt.datetime
    end: dt.datetime
    customers: list[dict[str, Any]]
    products: list[dict[str, Any]]
    orders: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[RefundPlan] = field(default_factory=list)
    interactions: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    profiles: dict[str, CustomerProfile] = field(default_factory=dict)
    co_purchases: list[tuple[str, str]] = field(default_factory=list)  # planted sku pairs
    quality: dict[str, float] = field(default_factory=dict)  # sku -> mean rating


@dataclass(slots=True)
class _Product:
    sku: str
    top: str
    price: Decimal
    name: str


def season(moment: dt.datetime) -> float:
    """How busy the shop is at this moment, relative to an average day (about 1)."""
    return WEEKDAY_FACTOR[moment.weekday()] * MONTH_FACTOR[moment.month - 1]


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, ROUND_HALF_UP))


def default_end() -> dt.datetime:
    """Today at midnight UTC: the demo's history ends just before it starts."""
    return dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def shop(
    customer_count: int,
    seed: int = 42,
    *,
    end: dt.datetime | None = None,
    days: int = 730,
    product_count: int | None = None,
) -> Shop:
    """A whole shop: `customer_count` customers, a catalogue, `days` of orders up to `end`
    (default: today at midnight UTC), partial refunds, interactions and a few tickets.

    The catalogue has `product_count` products (default: a quarter of the customers,
    between 200 and 2,000).
    """
    end = (end or default_end()).astimezone(dt.UTC).replace(microsecond=0)
    rng = random.Random(seed * 1_000_003 + 17)
    result = Shop(
        seed=seed,
        start=end - dt.timedelta(days=days),
        end=end,
        customers=list(customers(customer_count, seed=seed)),
        products=[],
    )
    count = product_count or min(2000, max(200, customer_count // 4))
    catalogue = _catalogue(rng, count, result)
    _plant_co_purchases(rng, catalogue, result)
    _Simulation(rng, result, catalogue, days).run()
    return result


def _catalogue(rng: random.Random, count: int, result: Shop) -> dict[str, list[_Product]]:
    """`count` products spread over the subcategories; returns them by top category, most
    popular first (popularity falls off as a power law within each category)."""
    by_top: dict[str, list[_Product]] = {}
    for n in range(count):
        sub = SUBCATEGORIES[n % len(SUBCATEGORIES)]
        noun, brand = rng.choice(sub.nouns), rng.choice(BRANDS[sub.top])
        adjective, colour = rng.choice(ADJECTIVES), rng.choice(COLOURS)
        first, second = rng.sample(sub.features, 2)
        # Log-uniform prices ending in .99: many cheap products, a few expensive ones.
        euros = round(math.exp(rng.uniform(math.log(sub.low), math.log(sub.high))))
        price = Decimal(euros) - CENT
        sku = f"{sub.top[:3].upper()}-{sub.name[:3].upper()}-{n:05d}"
        name = f"{brand} {adjective} {noun} ({colour})"
        result.products.append(
            {
                "sku": sku,
                "name": name,
                "description": (
                    f"The {adjective} {noun} by {brand}, in {colour}: {first} and {second}. "
                    f"Part of our {sub.name} range for {sub.top} lovers."
                ),
                "category_path": f"{sub.top}/{sub.name}",
                "brand": brand,
                "price": str(price),
                "currency": CURRENCY,
                "attributes": {"colour": colour},
            }
        )
        result.quality[sku] = round(rng.uniform(2.6, 4.8), 2)
        by_top.setdefault(sub.top, []).append(_Product(sku, sub.top, price, name))
    for products in by_top.values():
        rng.shuffle(products)
    return by_top


def _plant_co_purchases(
    rng: random.Random, catalogue: dict[str, list[_Product]], result: Shop
) -> None:
    """Pairs of popular products of one top category that are bought together."""
    for products in catalogue.values():
        head = products[: max(4, len(products) // 5)]
        for _ in range(max(2, len(products) // 40)):
            first, second = rng.sample(head, 2)
            result.co_purchases.append((first.sku, second.sku))


def _cumulate(weights: Sequence[float]) -> list[float]:
    total = 0.0
    cumulative = []
    for weight in weights:
        total += weight
        cumulative.append(total)
    return cumulative


class _Simulation:
    """Orders, refunds, interactions and tickets, customer by customer.

    Time runs in seconds since the shop's start; days are looked up in tables made once
    (their season and their date as text), which keeps a shop of thousands of customers
    well under a few seconds.
    """

    def __init__(
        self,
        rng: random.Random,
        result: Shop,
        catalogue: dict[str, list[_Product]],
        days: int,
    ) -> None:
        self.rng = rng
        self.shop = result
        self.catalogue = catalogue
        self.days = days
        self.horizon = days * DAY
        self.tops = list(catalogue)
        self.cumulative = {
            top: _cumulate([1 / (rank + 1) ** 0.8 for rank in range(len(products))])
            for top, products in catalogue.items()
        }
        self.partners: dict[str, list[_Product]] = {}
        by_sku = {p.sku: p for products in catalogue.values() for p in products}
        for first, second in result.co_purchases:
            self.partners.setdefault(first, []).append(by_sku[second])
            self.partners.setdefault(second, []).append(by_sku[first])
        dates = [result.start + dt.timedelta(days=day) for day in range(days + 1)]
        self.day_season = [season(date) for date in dates]
        self.day_text = [date.strftime("%Y-%m-%d") for date in dates]
        self.hour_cumulative = _cumulate(HOUR_WEIGHTS)
        self.order_number = 0
        self.event_number = 0

    def run(self) -> None:
        rng = self.rng
        personas = list(PERSONAS)
        shares = _cumulate([PERSONAS[name]["share"] for name in personas])
        for customer in self.shop.customers:
            ref = customer["external_ref"]
            persona = personas[bisect(shares, rng.random() * shares[-1])]
            spec = PERSONAS[persona]
            favourites = tuple(rng.sample(self.tops, rng.choice((1, 2, 2))))
            rate = spec["rate"] * rng.uniform(0.6, 1.5)
            profile = CustomerProfile(persona, favourites, rate, spec["dropout"])
            self.shop.profiles[ref] = profile
            order_days = self._order_days(profile, spec["first_by"])
            for day in order_days:
                self._order(ref, profile, day)
            self._browse(ref, profile, order_days)
        self._visitors()
        self.shop.orders.sort(key=lambda order: str(order["placed_at"]))
        self._tickets()

    def _season(self, day: float) -> float:
        return self.day_season[int(day)]

    def _order_days(self, profile: CustomerProfile, first_by: float) -> list[float]:
        """When the customer orders: an inhomogeneous Poisson process (thinned by the
        season), with a chance to leave after every order."""
        rng = self.rng
        if profile.persona == "browser":
            return []
        moment = self._seasonal_day(0.0, self.days * first_by)
        found = [moment]
        if profile.persona == "one_off":
            return found
        horizon = self.days * (LAPSED_UNTIL if profile.persona == "lapsed" else 1.0)
        while rng.random() >= profile.dropout:
            while True:
                moment += rng.expovariate(profile.purchase_rate * _SEASON_MAX)
                if moment >= horizon or rng.random() * _SEASON_MAX < self._season(moment):
                    break
            if moment >= horizon:
                break
            found.append(moment)
        return found

    def _seasonal_day(self, low: float, high: float) -> float:
        while True:
            day = self.rng.uniform(low, high)
            if self.rng.random() * _SEASON_MAX < self._season(day):
                return day

    def _time_on(self, day: float) -> float:
        """Seconds since the start: a time on that day, at an hour shoppers like."""
        hour = bisect(self.hour_cumulative, self.rng.random() * self.hour_cumulative[-1])
        return int(day) * DAY + hour * 3600 + self.rng.randrange(3600)

    def _text(self, seconds: float) -> str:
        day, rest = divmod(int(seconds), DAY)
        hour, rest = divmod(rest, 3600)
        minute, second = divmod(rest, 60)
        return f"{self.day_text[day]}T{hour:02d}:{minute:02d}:{second:02d}Z"

    def _product(self, top: str) -> _Product:
        cumulative = self.cumulative[top]
        return self.catalogue[top][bisect(cumulative, self.rng.random() * cumulative[-1])]

    def _pick(self, profile: CustomerProfile) -> _Product:
        rng = self.rng
        favourite = rng.random() < 0.8
        return self._product(
            rng.choice(profile.favourite_categories) if favourite else rng.choice(self.tops)
        )

    def _order(self, ref: str, profile: CustomerProfile, day: float) -> None:
        rng = self.rng
        placed = self._time_on(day)
        if placed >= self.horizon:
            return
        size = LINE_COUNTS[bisect(LINE_COUNT_CUMULATIVE, rng.random())]
        if profile.persona == "loyal" and rng.random() < 0.3:
            size += 1
        chosen: dict[str, _Product] = {}
        while len(chosen) < size:
            product = self._pick(profile)
            chosen.setdefault(product.sku, product)
            for partner in self.partners.get(product.sku, ()):
                if rng.random() < 0.6:
                    chosen.setdefault(partner.sku, partner)
        date = self.day_text[int(day)]
        sale = date[5:7] == "11" and date[8:] >= "20"  # the Black Friday weeks
        lines = []
        for product in chosen.values():
            draw = rng.random()
            quantity = 1 if draw < 0.85 else 2 if draw < 0.97 else 3
            line: dict[str, Any] = {"sku": product.sku, "quantity": quantity}
            if sale and rng.random() < 0.5:
                line["discount"] = _money(product.price * quantity * SALE_DISCOUNT)
            lines.append(line)
        self.order_number += 1
        order_ref = f"demo-{self.shop.seed}-o{self.order_number:07d}"
        status = self._status(placed)
        draw = rng.random()
        self.shop.orders.append(
            {
                "external_ref": order_ref,
                "customer_ref": ref,
                "channel": "web" if draw < 0.65 else "app" if draw < 0.9 else "store",
                "currency": CURRENCY,
                "placed_at": self._text(placed),
                "status": status,
                "lines": lines,
            }
        )
        if status == "delivered" and rng.random() < PARTIAL_REFUND_SHARE:
            returned = rng.randrange(len(lines)) + 1
            self.shop.refunds.append(RefundPlan(f"{order_ref}-r1", order_ref, [(returned, 1)]))
        self._purchase_events(ref, placed, list(chosen.values()), status)

    def _status(self, placed: float) -> str:
        rng = self.rng
        age_days = (self.horizon - placed) / DAY
        draw = rng.random()
        if draw < 0.04:
            return "cancelled"
        if age_days < 2:
            return "pending" if rng.random() < 0.4 else "paid"
        if age_days < 7:
            return "paid" if rng.random() < 0.3 else "shipped"
        return "refunded" if draw < 0.07 else "delivered"

    def _event(self, kind: str, ref: str | None, sku: str, at: float, **extra: Any) -> None:
        if not 0 <= at < self.horizon:
            return
        self.event_number += 1
        event: dict[str, Any] = {
            "event_id": f"demo-{self.shop.seed}-e{self.event_number:08d}",
            "kind": kind,
            "customer_ref": ref,
            "sku": sku,
            "occurred_at": self._text(at),
            **extra,
        }
        if ref is None:
            event["session_id"] = f"visitor-{self.shop.seed}-{self.event_number}"
        self.shop.interactions.append(event)

    def _purchase_events(
        self, ref: str, placed: float, products: list[_Product], status: str
    ) -> None:
        """Views and a cart before the purchase; a rating or review after delivery."""
        rng = self.rng
        for product in products:
            sku = product.sku
            if rng.random() < 0.1:
                self._event("wishlist", ref, sku, placed - rng.uniform(1, 20) * DAY)
            self._event("view", ref, sku, placed - rng.uniform(300, 3 * DAY))
            if rng.random() < 0.2:
                self._event("view", ref, sku, placed - rng.uniform(300, 3 * DAY))
            if rng.random() < 0.7:
                self._event("add_to_cart", ref, sku, placed - rng.uniform(60, 1800))
            if status != "delivered":
                continue
            draw = rng.random()
            if draw < 0.25:
                rating = min(5, max(1, round(rng.gauss(self.shop.quality[sku], 0.7))))
                later = placed + rng.uniform(5, 25) * DAY
                if draw < 0.06:
                    verdict = "is as described." if rating >= 3 else "was not what I hoped for."
                    text = f"{rng.choice(REVIEW_OPENINGS[rating])} The {product.name} {verdict}"
                    self._event("review", ref, sku, later, rating=rating, review_text=text)
                else:
                    self._event("rating", ref, sku, later, rating=rating)

    def _browse(self, ref: str, profile: CustomerProfile, order_days: list[float]) -> None:
        """Sessions that end without an order, in the customer's active time."""
        rng = self.rng
        first = order_days[0] if order_days else rng.uniform(0, self.days)
        last = order_days[-1] + 30 if order_days else self.days
        for _ in range(BROWSING_SESSIONS[profile.persona]):
            at = self._time_on(rng.uniform(max(0.0, first - 30), min(self.days, last)))
            for _ in range(rng.randint(1, 3)):
                product = self._pick(profile)
                at += rng.uniform(30, 360)
                self._event("view", ref, product.sku, at)
                if rng.random() < 0.12:
                    self._event("add_to_cart", ref, product.sku, at + 30)
                    self._event("remove_from_cart", ref, product.sku, at + 180)
                elif rng.random() < 0.06:
                    self._event("wishlist", ref, product.sku, at + 20)

    def _visitors(self) -> None:
        """Anonymous visitors: a session id, a few views of popular products."""
        rng = self.rng
        for _ in range(len(self.shop.customers) // 2):
            top = rng.choice(self.tops)
            at = self._time_on(rng.uniform(0, self.days))
            for _ in range(rng.randint(1, 3)):
                at += rng.uniform(30, 300)
                self._event("view", None, self._product(top).sku, at)

    def _tickets(self) -> None:
        rng = self.rng
        orders = self.shop.orders
        if not orders:
            return
        names = {product["sku"]: product["name"] for product in self.shop.products}
        for n in range(min(60, max(3, len(self.shop.customers) // 100))):
            order = rng.choice(orders)
            kind, subject, body = rng.choice(TICKETS)
            self.shop.tickets.append(
                {
                    "key": f"demo-{self.shop.seed}-t{n:04d}",
                    "customer_ref": order["customer_ref"],
                    "kind": kind,
                    "subject": subject,
                    "body": body.format(product=names[order["lines"][0]["sku"]]),
                }
            )
