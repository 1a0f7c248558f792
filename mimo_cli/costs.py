"""What a request costs: its estimate before sending (:mod:`mimo_cli.estimate`) and its usage's price."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mimo_cli.result import usage_numbers

if TYPE_CHECKING:
    from mimo_cli.estimate.tokens import Estimate
    from mimo_cli.request import ChatRequest
    from mimo_cli.settings import Settings


def estimate_of(request: ChatRequest) -> Estimate:
    """The prompt tokens a prepared request will cost, before it is sent (see :mod:`mimo_cli.estimate`)."""
    from mimo_cli.ffmpeg.facts import request_estimate

    return request_estimate(request)


def estimate_record(est: Estimate, settings: Settings) -> dict[str, Any]:
    """The ``estimate`` of records and ``--dry-run --json``; with prices, its input's ``cost`` too."""
    from mimo_cli.estimate.tokens import cost

    shown: dict[str, Any] = dict(est.as_dict())
    amount = cost(est.prompt_tokens, None, settings.price_input, settings.price_output)
    if amount is not None:
        shown["cost"] = round(amount, 6)
        shown["currency"] = settings.currency
    return shown


def usage_cost(usage: dict[str, Any] | None, settings: Settings) -> str | None:
    """What a usage cost at the profile's prices (``¥0.0123``); None without prices or usage."""
    from mimo_cli.estimate.tokens import cost, format_cost

    n = usage_numbers(usage)
    amount = cost(n["prompt"], n["completion"], settings.price_input, settings.price_output)
    return None if amount is None else format_cost(amount, settings.currency)
