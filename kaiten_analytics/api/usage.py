"""Metering: usage reports (single and batch), an instance's entitlements, flags, audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import JSONResponse, Response

import kaiten_analytics as ka
from kaiten_analytics.api import auth, models
from kaiten_analytics.api.auth import Handle, check_instance
from kaiten_analytics.api.problems import ProblemError, problem_response, responses

router = APIRouter(tags=["metering"])
SlugPath = Annotated[str, Path(description="the instance's slug", examples=["acme-prod"])]
EntitlementPath = Annotated[str, Path(description="the entitlement's slug",
                                      examples=["api-calls"])]
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=models.KEY_MAX, pattern=r"[^\s\x1c-\x1f]",
    description="a retry with the same key returns the first response (with "
                "`Idempotent-Replayed: true`) and writes nothing; the same key with another "
                "request is 422 `idempotency-key-reused`. Keys are honoured for 7 days.")]
DryRun = Annotated[bool, Query(
    description="`true`: answer what the report would get now (the same status and body) "
                "and write nothing; `event_id` is null")]
_REPLAYED = {"Idempotent-Replayed": {"description": "`true` when this is the stored response "
                                                    "of an earlier request with the same key",
                                     "schema": {"type": "string", "enum": ["true"]}}}


def _report_body(report: ka.UsageReport) -> dict:
    return {"status": report.status, "usage": report.usage, "threshold": report.threshold,
            "reason": report.reason, "event_id": report.event_id}


@router.post("/api/instances/{slug}/entitlements/{entitlement}/usage",
             operation_id="reportUsage", response_model=models.UsageReport,
             responses={**responses(400, 401, 403, 404, 409, 422, 503,
                                    p409=models.UsageRejected),
                        200: {"description": "ACCEPTED", "headers": _REPLAYED}})
def report_usage(kaiten: Handle, slug: SlugPath, entitlement: EntitlementPath,
                 body: models.UsageReportIn, secret: auth.Secret,
                 idempotency_key: IdempotencyKey = None, dry_run: DryRun = False
                 ) -> JSONResponse:
    """Report usage: ACCEPTED is 200, REJECTED (over the limit, outside the term) is 409.

    With ``dry_run=true`` the answer is what the report would get now, and nothing is
    written (no usage change, no audit event: ``event_id`` is null).
    """
    key = auth.authorized(kaiten, secret, "report")
    check_instance(kaiten, key, slug)
    if dry_run:
        if idempotency_key is not None:
            raise ProblemError(422, "validation-error", "a dry run writes nothing, so it "
                               "takes no Idempotency-Key", "Idempotency-Key")
        report = kaiten.usage.check(slug, entitlement, body.value)
    else:
        report = kaiten.usage.report(slug, entitlement, body.value,
                                     idempotency_key=idempotency_key)
    headers = {"Idempotent-Replayed": "true"} if report.replayed else None
    if report.status == "REJECTED":
        body = _report_body(report)
        del body["status"]
        return problem_response(409, "usage-rejected", report.reason or "rejected",
                                headers=headers, outcome="REJECTED", **body)
    return JSONResponse(_report_body(report), headers=headers)


@router.post("/api/usage/batch", operation_id="reportUsageBatch", response_model=models.BatchOut,
             responses=responses(400, 401, 403, 404, 409, 422, 503))
def report_batch(kaiten: Handle, body: models.BatchIn, secret: auth.Secret
                 ) -> models.BatchOut:
    """Apply 1–100 reports in order in one transaction; a refused one refuses the batch."""
    key = auth.authorized(kaiten, secret, "report")
    for index, item in enumerate(body.reports):
        try:
            check_instance(kaiten, key, item.instance)
        except ka.NotFoundError as error:
            error.field = f"reports[{index}].instance"
            raise
    reports = kaiten.usage.report_many([item.model_dump() for item in body.reports])
    return models.BatchOut(results=[
        models.BatchReport(**_report_body(r), instance=r.instance, entitlement=r.entitlement)
        for r in reports])


@router.get("/api/instances/{slug}/entitlements", operation_id="listEntitlements",
            response_model=models.EntitlementList, responses=responses(401, 403, 404, 422, 503))
def list_entitlements(kaiten: Handle, slug: SlugPath, secret: auth.Secret
                      ) -> models.EntitlementList:
    """Every entitlement of the instance's license with its usage."""
    key = auth.authorized(kaiten, secret, "meter")
    check_instance(kaiten, key, slug)
    rows = models.records(kaiten.usage.summary(slug))
    return models.EntitlementList(items=[models.EntitlementUsage(**row) for row in rows])


@router.get("/api/instances/{slug}/entitlements/{entitlement}", operation_id="getEntitlement",
            response_model=models.EntitlementValue,
            responses=responses(401, 403, 404, 422, 503))
def get_entitlement(kaiten: Handle, slug: SlugPath, entitlement: EntitlementPath,
                    secret: auth.Secret) -> models.EntitlementValue:
    """The granted value and current usage; the read is appended to the audit trail."""
    key = auth.authorized(kaiten, secret, "meter")
    check_instance(kaiten, key, slug)
    return models.EntitlementValue.model_validate(kaiten.usage.get_value(slug, entitlement))


@router.get("/api/instances/{slug}/flags", operation_id="evaluateFlags",
            response_model=models.FlagList, responses=responses(401, 403, 404, 422, 503))
def evaluate_flags(kaiten: Handle, slug: SlugPath, secret: auth.Secret
                   ) -> models.FlagList:
    """Every flag evaluated for the instance."""
    key = auth.authorized(kaiten, secret, "meter")
    check_instance(kaiten, key, slug)
    rows = models.records(kaiten.flags.evaluate_all(slug))
    return models.FlagList(items=[models.FlagEvaluation(**row) for row in rows])


@router.get("/api/instances/{slug}/flags/{flag}", operation_id="evaluateFlag",
            response_model=models.FlagEvaluation, responses=responses(401, 403, 404, 422, 503))
def evaluate_flag(kaiten: Handle, slug: SlugPath,
                  flag: Annotated[str, Path(description="the flag's key")],
                  secret: auth.Secret) -> models.FlagEvaluation:
    """The value one flag serves the instance, and why."""
    key = auth.authorized(kaiten, secret, "meter")
    check_instance(kaiten, key, slug)
    result = kaiten.flags.evaluate(flag, slug)
    return models.FlagEvaluation(key=flag, value=result.value, reason=result.reason,
                                 rule=result.rule)


@router.get("/api/instances/{slug}/audit-trails", operation_id="listAuditTrail",
            response_model=models.AuditPage, responses=responses(401, 403, 404, 422, 503))
def audit_trail(kaiten: Handle, slug: SlugPath, query: Annotated[models.AuditQuery, Query()],
                secret: auth.Secret) -> Response:
    """The instance's audit trail, newest first."""
    key = auth.authorized(kaiten, secret, "read")
    check_instance(kaiten, key, slug)
    events = kaiten.audit.trail_records(slug, event_name=query.event_name, after=query.after,
                                        before=query.before, limit=query.limit,
                                        offset=query.offset)
    return models.json_response(models.AuditPage(
        items=[models.AuditEvent(**event) for event in events],
        limit=query.limit, offset=query.offset))
