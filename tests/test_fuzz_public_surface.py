"""Hostile input never escapes as a foreign exception: Hypothesis over every public method.

Every public method of the ``Kaiten`` handle — found by walking the handle's namespaces, so a
new method is fuzzed without touching this file — is called with arguments drawn from a junk
strategy (None, numbers incl. NaN/inf, booleans, containers, bytes, over-long strings, NUL
bytes and control characters, odd Unicode, dates and datetimes of the wrong kind) mixed with
valid values (slugs of a small seeded catalogue, so calls get past their first argument and
reach the later ones). Each call must either succeed or raise a ``ka.KaitenError`` — an
``UnavailableError`` while the database is up is a failure too (a mistranslated error); a
refused call must change no row count (every table counted in one SQL statement).

One handle per engine serves every call (no per-example database setup). No warehouse is
configured, so ``warehouse.*`` is fuzzed on its "no warehouse" refusal only. The default run
is a small sample; the ``slow`` run makes at least 10,000 calls per engine.
"""

from __future__ import annotations

import inspect
import math
import string
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kaiten_analytics as ka
from kaiten_analytics.db.models import metadata

#: Public methods not fuzzed, and why. Everything else on the handle is.
EXCLUDED = {
    "webhooks.run": "the relay loop: runs until stopped, and once=True makes HTTP calls",
    "demo.build": "succeeding writes a whole demo fleet (thousands of events) per call",
    "close": "disposes the handle's engine, which every later call shares",
}

SAMPLE_CALLS = 600       # the default run, per engine
SLOW_CALLS = 10_000      # the slow run, per engine
CALLS_PER_EXAMPLE = 5    # calls drawn in one Hypothesis example (its overhead is per example)


# --- the public surface ------------------------------------------------------------------------

def public_methods(kaiten: ka.Kaiten) -> dict[str, Callable[..., Any]]:
    """Return ``{"namespace.method": bound method}`` for every public method of the handle.

    The namespaces are the handle's attributes whose classes live in ``kaiten_analytics``
    (``db``, the service layer's handle, is not public surface); the handle's own methods
    are listed without a namespace. Properties are not methods.
    """
    found: dict[str, Callable[..., Any]] = {}

    def methods_of(obj: object, prefix: str) -> None:
        for name, _ in inspect.getmembers(type(obj), inspect.isfunction):
            if not name.startswith("_"):
                found[prefix + name] = getattr(obj, name)

    methods_of(kaiten, "")
    for name, namespace in vars(kaiten).items():
        if name.startswith("_") or name == "db":
            continue
        if type(namespace).__module__.startswith("kaiten_analytics."):
            methods_of(namespace, f"{name}.")
    return {name: method for name, method in sorted(found.items()) if name not in EXCLUDED}


# --- junk ------------------------------------------------------------------------------------

ODD_STRINGS = [
    "", " ", "\x00", "acme\x00", "acme-prod\x00", "\x00acme-prod", "\t", "\n", "\r\n", "\x7f",
    "\x1b[31m", "acme-prod\n", " acme-prod", "ACME-PROD", "acme_prod", "acme--prod", "-acme",
    "café", "\u202eacme", "\ufeffacme", "ＡＣＭＥ", "𝔞𝔠𝔪𝔢", "\ud800", "a\udfffb", "😀" * 3,
    "../../etc/passwd", "/etc/passwd", "Europe/../../etc/passwd", "/usr/share/zoneinfo/UTC",
    "Europe/Berlin\x00", "UTC" * 100, "Etc/" + "A" * 300, "a/" * 200, "%s%s%n", "{}", "[]",
    "null", "NaN", "-inf", "1e999", "'; DROP TABLE customers; --", "a" * 64, "a" * 201,
    "x" * 5_000, "é" * 1_000,
    # shaped like what is valid around them: a URL with a control character inside
    "https://example.com/hook\x00", "http://\x00\x12host\x14/", "https://exa\x7fmple.com/",
]
ODD_NUMBERS = [0, -1, 1, 2**31, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**30), math.nan,
               math.inf, -math.inf, -0.0, 1e308, 5e-324, 0.5, Decimal("NaN"), Decimal("1e999"),
               Decimal("-0"), 1 + 2j, True, False]

_TEXT = st.characters(codec=None, exclude_categories=())  # every code point, surrogates too
SCALAR_JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),
    st.decimals(),
    st.sampled_from(ODD_NUMBERS),
    st.binary(max_size=12),
    st.binary(max_size=12).map(bytearray),
    st.text(_TEXT, max_size=12),
    st.text(st.characters(categories=["Cc", "Cs", "Co", "Cn", "Zl", "Zp", "Mn"]), min_size=1,
            max_size=6),
    st.sampled_from(ODD_STRINGS),
    st.tuples(st.text(string.ascii_lowercase, min_size=1, max_size=6),
              st.sampled_from(["\x00", "\x01", "\n", "\u2028", "\ud800"])).map("".join),
    st.integers(min_value=64, max_value=12_000).map(lambda n: "a" * n),
    st.dates(),
    st.datetimes(),                                   # naive
    st.datetimes(timezones=st.timezones()),           # aware, any zone
    st.times(),
    st.timedeltas(),
    st.sampled_from([object(), Ellipsis, NotImplemented, type, print, ka, st]),
)
JUNK = st.one_of(
    SCALAR_JUNK,
    st.lists(SCALAR_JUNK, max_size=3),
    st.lists(SCALAR_JUNK, max_size=3).map(tuple),
    st.frozensets(st.sampled_from([0, 1, "a", None]), max_size=3),
    st.dictionaries(st.one_of(st.text(max_size=6), st.integers(), st.none()), SCALAR_JUNK,
                    max_size=3),
    st.builds(lambda: iter(["acme", 1])),
)


# --- valid values, by parameter name ---------------------------------------------------------

CUSTOMERS = ["acme", "globex"]
ZONES = ["eu-prod", "us-prod"]
LICENSES = ["starter", "pro"]
ENTITLEMENTS = ["seats", "api-calls", "sso", "support-tier", "m-sum", "m-latest"]
INSTANCES = ["acme-prod", "globex-dev"]
SPARE_INSTANCES = [f"spare-{n}" for n in range(4)]   # the only ones a fuzzed call may delete
FLAGS = ["dark-mode", "banner"]
SPARE_FLAGS = ["spare-flag"]
EMAILS = ["ada@example.com", "grace@example.org"]
KEY_NAMES = ["ci-reporter", "spare-key"]
FRESH = st.from_regex(r"\A[a-z]{1,8}(-[a-z0-9]{1,4})?\Z")   # new slugs, mostly not taken

AWARE = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1),
                     timezones=st.just(UTC))
RULES = st.sampled_from([
    (), [],
    [{"conditions": [{"attribute": "customer.slug", "operator": "in", "value": ["acme"]}],
      "value": True}],
    '[{"percentage": 50, "value": true}]',
])

VALID: dict[str, st.SearchStrategy] = {
    "instance": st.sampled_from(INSTANCES + SPARE_INSTANCES),
    "customer": st.sampled_from(CUSTOMERS) | st.none(),
    "license": st.sampled_from(LICENSES) | st.none(),
    "zone": st.sampled_from([*ZONES, ka.NO_ZONE]) | st.none(),
    "deployment_zone": st.sampled_from(ZONES) | st.none(),
    "entitlement": st.sampled_from(ENTITLEMENTS),
    "slug": FRESH | st.sampled_from(INSTANCES),
    "key": st.sampled_from(FLAGS) | FRESH,
    "name": st.text(string.ascii_letters + " -", min_size=1, max_size=20),
    "description": st.text(max_size=30),
    "unit": st.sampled_from(["calls", "GB", None]),
    "type": st.sampled_from(["NUMBER", "BOOLEAN", "STRING", "boolean", "string", "number",
                             "json"]),
    "aggregation_method": st.sampled_from(["SUM", "MAX", "LATEST", None]),
    "entitlements": st.dictionaries(st.sampled_from(ENTITLEMENTS),
                                    st.integers(0, 100) | st.booleans() | st.text(max_size=5)
                                    | st.none(), max_size=3),
    "license_start": st.dates() | st.none(),
    "license_end": st.dates() | st.none(),
    "metadata": st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5),
                                max_size=2) | st.none(),
    "value": st.integers(0, 20) | st.floats(0, 20),
    "idempotency_key": st.text(string.ascii_letters, min_size=1, max_size=10) | st.none(),
    "reports": st.lists(st.tuples(st.sampled_from(INSTANCES), st.sampled_from(ENTITLEMENTS),
                                  st.integers(0, 5)), max_size=3),
    "older_than_hours": st.floats(24, 10_000) | st.none(),
    "event_name": st.sampled_from(ka.EVENT_NAMES) | st.none(),
    "status": st.sampled_from(["ACCEPTED", "REJECTED", "pending", "failed", None]),
    "search": st.text(max_size=10) | st.none(),
    "after": AWARE.map(datetime.isoformat) | AWARE | st.none(),
    "before": AWARE | st.none(),
    "when": AWARE.map(datetime.isoformat) | AWARE,
    "reason": st.text(max_size=30),
    "limit": st.integers(1, 100),
    "offset": st.integers(0, 100),
    "tz": st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]),
    "days": st.integers(1, 60),
    "window_days": st.integers(1, 60),
    "max_points": st.integers(10, 3000) | st.none(),
    "percent": st.floats(0, 100),
    "default_value": st.booleans() | st.text(max_size=5) | st.integers(),
    "enabled": st.booleans(),
    "rules": RULES,
    "email": st.sampled_from(EMAILS) | st.none(),
    "role": st.sampled_from(["admin", "viewer", "reporter"]),
    "secret": st.sampled_from(["ka_" + "a" * 32, "nonsense"]),
    "url": st.sampled_from(["https://example.com/hook", "http://hooks.example.org/x"]),
    "events": st.sampled_from([None, "INSTANCE_CREATED", ["INSTANCE_DELETED"]]),
    "endpoint": st.integers(1, 3) | st.none(),
    "delivery": st.integers(1, 5),
    "include_deleted": st.booleans(),
    "batch_rows": st.integers(1, 1000),
    "from_start": st.booleans(),
    "progress": st.just(False),
}
#: where one method's parameter means something else than the name says elsewhere
OVERRIDES: dict[tuple[str, str], st.SearchStrategy] = {
    ("instances.delete", "slug"): st.sampled_from(SPARE_INSTANCES),
    ("instances.update", "slug"): st.sampled_from(SPARE_INSTANCES),
    ("instances.create", "slug"): FRESH,
    ("instances.create", "customer"): st.sampled_from(CUSTOMERS),
    ("instances.create", "license"): st.sampled_from(LICENSES),
    ("instances.create", "license_end"): st.none(),
    ("flags.create", "type"): st.sampled_from(["boolean", "boolean", "string", "number"]),
    ("flags.create", "default_value"): st.booleans(),
    ("customers.create", "slug"): FRESH,
    ("zones.create", "slug"): FRESH,
    ("licenses.create", "slug"): FRESH,
    ("entitlements.create", "slug"): FRESH,
    ("flags.delete", "key"): st.sampled_from(SPARE_FLAGS),
    ("flags.update", "key"): st.sampled_from(SPARE_FLAGS),
    ("keys.create", "name"): FRESH,
    ("keys.revoke", "name"): st.sampled_from(["spare-key"]) | FRESH,
    ("users.remove", "email"): st.sampled_from(["spare@example.com"]),
    ("users.add", "email"): st.sampled_from(EMAILS),
    ("users.add", "role"): st.sampled_from(ka.CONSOLE_ROLES),
    ("keys.create", "role"): st.sampled_from(["admin", "viewer", "reporter"]),
    ("webhooks.remove", "endpoint"): st.just(3),
    ("webhooks.disable", "endpoint"): st.integers(1, 3),
    ("webhooks.get", "endpoint"): st.integers(1, 3),
    ("webhooks.enable", "endpoint"): st.integers(1, 3),
    ("webhooks.rotate_secret", "endpoint"): st.integers(1, 3),
    ("webhooks.send_test", "endpoint"): st.integers(1, 3),
}
#: the field names a ``**changes`` argument draws from (known ones and a stranger)
CHANGE_NAMES = ["name", "slug", "customer", "license", "deployment_zone", "description",
                "license_start", "license_end", "metadata", "type", "default_value", "enabled",
                "rules", "id", "created_at"]


def valid_for(method: str, parameter: str) -> st.SearchStrategy | None:
    return OVERRIDES.get((method, parameter), VALID.get(parameter))


def argument(method: str, parameter: str) -> st.SearchStrategy:
    """A valid value for ``parameter`` (two times in three, when one is known) or junk.

    The choice is drawn first: ``st.one_of`` would flatten JUNK's many branches beside the
    valid one and pick the valid value rarely.
    """
    valid = valid_for(method, parameter)
    if valid is None:
        return JUNK
    return st.sampled_from([valid, valid, JUNK]).flatmap(lambda strategy: strategy)


def call_strategy(methods: dict[str, Callable[..., Any]]) -> st.SearchStrategy:
    """Draw ``(method name, args, kwargs)`` for one call of one public method.

    An optional parameter keeps its default a third of the time; ``**changes`` gets up to
    three fields of :data:`CHANGE_NAMES`.
    """
    plans = {}   # method -> [(kind, name, optional, strategy)], built once
    for name, method in methods.items():
        plan = []
        for parameter in inspect.signature(method).parameters.values():
            if parameter.kind is parameter.VAR_POSITIONAL:
                continue
            strategy = (None if parameter.kind is parameter.VAR_KEYWORD
                        else argument(name, parameter.name))
            plan.append((parameter.kind, parameter.name,
                         parameter.default is not parameter.empty, strategy))
        plans[name] = plan
    changes = {name: st.lists(st.sampled_from(CHANGE_NAMES), max_size=3, unique=True).flatmap(
        lambda keys, name=name: st.fixed_dictionaries({k: argument(name, k) for k in keys}))
        for name in methods}
    names = st.sampled_from(sorted(methods))
    keep_default = st.integers(0, 2)

    @st.composite
    def draw_call(draw) -> tuple[str, tuple, dict]:
        name = draw(names)
        args, kwargs = [], {}
        for kind, parameter, optional, strategy in plans[name]:
            if kind is inspect.Parameter.VAR_KEYWORD:
                kwargs.update(draw(changes[name]))
            elif not (optional and draw(keep_default) == 0):
                value = draw(strategy)
                if kind is inspect.Parameter.POSITIONAL_ONLY:
                    args.append(value)
                else:
                    kwargs[parameter] = value
        return name, tuple(args), kwargs

    return draw_call()


# --- the database under the fuzzer -----------------------------------------------------------

def row_counts_statement() -> sa.Select:
    """One SELECT with a ``count(*)`` sub-query per table: every row count in one round trip."""
    return sa.select(*[
        sa.select(sa.func.count()).select_from(table).scalar_subquery().label(name)
        for name, table in sorted(metadata.tables.items())
    ])


def seed(kaiten: ka.Kaiten) -> None:
    """What the valid values name, on top of the ``catalogue`` fixture's catalogue."""
    for slug in SPARE_INSTANCES:
        kaiten.instances.create("acme", "Spare", slug, "starter")
    kaiten.flags.create("dark-mode", "Dark mode", "boolean", False)
    kaiten.flags.create("banner", "Banner", "string", "hello",
                        rules=[{"percentage": 50, "value": "hi"}])
    kaiten.flags.create("spare-flag", "Spare", "number", 1)
    kaiten.users.add("ada@example.com", "admin")
    kaiten.users.add("spare@example.com", "viewer")
    kaiten.keys.create("ci-reporter", "reporter", customer="acme")
    kaiten.keys.create("spare-key", "viewer")
    for _ in range(3):
        kaiten.webhooks.add("https://example.com/hook")
    for value in (3, 4, 2000):
        kaiten.usage.report("globex-dev", "api-calls", value)
    kaiten.usage.get_value("acme-prod", "seats")


class Fuzzer:
    """Calls public methods on one handle and checks what comes out.

    Connections taken from the handle's pool are counted (a SQLAlchemy pool event, which
    also sees the driver-level statements of the write path): a refused call that took none
    was refused at the door, before any database work, and cannot have changed a row; one
    that took a connection is checked by counting every table's rows before and after. After
    a call that succeeded the rows are counted again.
    """

    def __init__(self, kaiten: ka.Kaiten) -> None:
        self.kaiten = kaiten
        self.methods = public_methods(kaiten)
        self.counts_statement = row_counts_statement()
        self.stats: Counter[str] = Counter()
        self.refused_by: Counter[str] = Counter()
        self._known: tuple | None = None
        self._checkouts = 0
        sa.event.listen(kaiten.db.engine, "checkout", self._count_checkout)

    def _count_checkout(self, *_: object) -> None:
        self._checkouts += 1

    def row_counts(self) -> tuple:
        with self.kaiten.db.engine.connect() as connection:
            return tuple(connection.execute(self.counts_statement).one())

    def call(self, name: str, args: tuple, kwargs: dict) -> None:
        before = self._known if self._known is not None else self.row_counts()
        self.stats["calls"] += 1
        self._checkouts = 0
        try:
            self.methods[name](*args, **kwargs)
        except ka.UnavailableError as error:   # the database is up: a mistranslated error
            self.stats["unhandled"] += 1
            raise AssertionError(f"{name}(*{args!r}, **{kwargs!r}) raised {error!r} while the "
                                 "database is up") from error
        except ka.KaitenError as error:
            self.stats["refused"] += 1
            self.refused_by[type(error).__name__] += 1
            if not self._checkouts:
                self.stats["refused at the door"] += 1
                self._known = before
                return
            after = self.row_counts()
            assert after == before, (
                f"{name}(*{args!r}, **{kwargs!r}) raised {error!r} but changed row counts")
            self._known = after
        except Exception as error:
            self.stats["unhandled"] += 1
            raise AssertionError(
                f"{name}(*{args!r}, **{kwargs!r}) raised {type(error).__module__}."
                f"{type(error).__qualname__}: {error}") from error
        else:
            self.stats["succeeded"] += 1
            self._known = None

    def run(self, calls: int) -> Counter[str]:
        """Make at least ``calls`` calls, :data:`CALLS_PER_EXAMPLE` per Hypothesis example.

        Hypothesis skips an example it has already run (a method without arguments is called
        once per run), so runs repeat until enough calls were made.
        """
        strategy = call_strategy(self.methods)
        target = self.stats["calls"] + calls
        while self.stats["calls"] < target:
            examples = -(-(target - self.stats["calls"]) // CALLS_PER_EXAMPLE)

            @settings(max_examples=examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(st.data())
            def fuzz(data) -> None:
                for _ in range(CALLS_PER_EXAMPLE):
                    self.call(*data.draw(strategy))

            fuzz()
        return self.stats


@pytest.fixture
def fuzzer(catalogue, monkeypatch) -> Fuzzer:
    """A fuzzer on the seeded catalogue (webhook secrets under a throwaway key)."""
    monkeypatch.setenv("KAITEN_WEBHOOKS_SECRET_KEY", Fernet.generate_key().decode())
    seed(catalogue)
    return Fuzzer(catalogue)


def report(engine_name: str, fuzzer: Fuzzer, seconds: float, cpu_seconds: float) -> str:
    stats = fuzzer.stats
    return (f"fuzz {engine_name}: {stats['calls']} calls over {len(fuzzer.methods)} methods in "
            f"{seconds:.1f} s ({cpu_seconds:.1f} s CPU), {stats['succeeded']} succeeded, "
            f"{stats['refused']} refused "
            f"({', '.join(f'{n} {k}' for k, n in fuzzer.refused_by.most_common())}; "
            f"{stats['refused at the door']} before any database work), "
            f"unhandled {stats['unhandled']}")


# --- the tests -------------------------------------------------------------------------------

def test_every_public_method_is_fuzzed_and_has_valid_values(kaiten):
    """Discovery finds the surface; every parameter but the junk-only ones has valid values."""
    methods = public_methods(kaiten)
    assert {"customers.create", "usage.report", "audit.stats", "flags.evaluate",
            "webhooks.deliveries", "today"} <= set(methods)
    assert not set(EXCLUDED) & set(methods)
    missing = [
        f"{name}({parameter.name})"
        for name, method in methods.items()
        for parameter in inspect.signature(method).parameters.values()
        if parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)
        and valid_for(name, parameter.name) is None
    ]
    assert not missing, f"give these parameters valid values in VALID: {missing}"


def _fuzz(fuzzer: Fuzzer, engine_name: str, calls: int) -> None:
    started, cpu_started = time.perf_counter(), time.process_time()
    stats = fuzzer.run(calls)
    print("\n" + report(engine_name, fuzzer, time.perf_counter() - started,
                        time.process_time() - cpu_started))
    assert stats["calls"] >= calls
    assert stats["unhandled"] == 0
    assert stats["succeeded"] >= calls // 10, "valid values should get calls through"
    assert stats["refused"] >= calls // 4, "junk should be refused"
    assert stats["refused at the door"] >= calls // 10


def test_fuzz_public_surface_sample(fuzzer, engine_name):
    """A few hundred junk-and-valid calls: each succeeds or raises a KaitenError."""
    _fuzz(fuzzer, engine_name, SAMPLE_CALLS)


@pytest.mark.slow
def test_fuzz_public_surface_ten_thousand_calls(fuzzer, engine_name):
    """At least 10,000 calls per engine on one handle: none escapes as a foreign exception."""
    _fuzz(fuzzer, engine_name, SLOW_CALLS)

