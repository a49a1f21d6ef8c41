"""Routing: integration key first, then the services' label matchers
(=, !=, =~, !~), then a team's fallback service; alerts that match nothing
are kept and reported (receiver "unroutable", counted in /metrics), never
dropped."""

from e2e_support import AM_HOOK_KEY, DB_HOOK_KEY, metric_value


def service_of(ingest, alertname):
    """The service of the one open incident whose summary is alertname."""
    incs = [i for i in ingest.incidents() if i["summary"] == alertname]
    assert len(incs) <= 1, incs
    return incs[0]["service"] if incs else None


def post(ingest, name, **labels):
    r = ingest.am([{"labels": dict({"alertname": name}, **labels)}])
    assert r.status == 200, r


def test_label_matchers_choose_the_service(ingest):
    # ops-db: job=~"postgres|pgbouncer", severity!="info"
    post(ingest, "PgA", job="postgres", severity="critical", cluster="c1")
    post(ingest, "PgB", job="pgbouncer", cluster="c1")  # no severity label: != "info" holds
    post(ingest, "PgC", job="postgres-exporter", severity="critical")  # regex is anchored
    post(ingest, "PgD", job="postgres", severity="info")  # != fails
    # ops-prom: service_tag="prom", env!~"dev|test"
    post(ingest, "PromA", service_tag="prom", env="prod")
    post(ingest, "PromB", service_tag="prom")  # env absent is "": !~ holds
    post(ingest, "PromC", service_tag="prom", env="dev")  # !~ fails
    post(ingest, "PromD", service_tag="prom", env="testing")  # anchored: "testing" is not "test"
    want = {"PgA": "ops-db", "PgB": "ops-db", "PgC": None, "PgD": None,
            "PromA": "ops-prom", "PromB": "ops-prom", "PromC": None, "PromD": "ops-prom"}
    got = {name: service_of(ingest, name) for name in want}
    assert got == want


def test_integration_key_wins_over_matchers(ingest):
    # labels that ops-db's matchers would claim, sent with ops-am's key
    labels = {"alertname": "KeyWins", "job": "postgres", "severity": "critical"}
    r = ingest.webhook([{"status": "firing", "labels": labels}], key=AM_HOOK_KEY)
    assert r.status == 200 and r.body["alerts"][0]["service"] == "ops-am", r
    # and ops-db's own key routes there without any label
    r = ingest.webhook([{"status": "firing", "labels": {"alertname": "ByDbKey"}}],
                       key=DB_HOOK_KEY)
    assert r.status == 200 and r.body["alerts"][0]["service"] == "ops-db", r
    assert service_of(ingest, "KeyWins") == "ops-am"
    assert service_of(ingest, "ByDbKey") == "ops-db"


def test_team_fallback(ingest):
    # no service matches, the team's match (team="ops") does
    post(ingest, "FallA", team="ops")
    post(ingest, "FallB", team="ops", job="postgres", severity="info")
    post(ingest, "FallC", team="ops", service_tag="prom", env="dev")
    # a service match still wins over the team fallback
    post(ingest, "FallD", team="ops", job="postgres", severity="critical")
    # another team's label: no fallback
    post(ingest, "FallE", team="payments")
    got = {n: service_of(ingest, n) for n in ("FallA", "FallB", "FallC", "FallD", "FallE")}
    assert got == {"FallA": "ops-fallback", "FallB": "ops-fallback", "FallC": "ops-fallback",
                   "FallD": "ops-db", "FallE": None}


def test_unroutable_alerts_are_kept_and_counted(ingest):
    m0 = metric_value(ingest.metrics(), "opsbell_ingest_events_total", {"outcome": "unroutable"})
    assert m0 is not None
    lost = {"alertname": "NobodyOwnsMe", "instance": "x1"}
    r = ingest.am([{"labels": lost, "annotations": {"summary": "orphan"}}])
    assert r.status == 200, r
    # the generic door without service or key routes by labels too
    r = ingest.generic({"summary": "orphan 2", "labels": {"alertname": "NobodyOwnsMe2"}})
    assert r.status == 202 and r.body["alerts"][0]["status"] == "unroutable", r
    assert r.body["alerts"][0].get("service") is None, r
    # a repeat of an unroutable alert is one alert, counted again
    r = ingest.am([{"labels": lost, "annotations": {"summary": "orphan"}}])
    assert r.status == 200, r

    assert ingest.incidents() == []  # nobody to page
    alerts = {a["labels"]["alertname"]: a for a in ingest.active_alerts()}
    assert set(alerts) == {"NobodyOwnsMe", "NobodyOwnsMe2"}, alerts
    for a in alerts.values():
        assert a["receivers"] == [{"name": "unroutable"}], a
        assert a["status"]["state"] == "active", a
    assert alerts["NobodyOwnsMe"]["annotations"] == {"summary": "orphan"}
    m1 = metric_value(ingest.metrics(), "opsbell_ingest_events_total", {"outcome": "unroutable"})
    assert m1 == m0 + 3, (m0, m1)
    assert "unroutable" in ingest.d.log_text()

    # an unroutable alert resolves like any other
    r = ingest.am([{"labels": lost, "endsAt": "2001-01-01T00:00:00Z"}])
    assert r.status == 200, r
    assert [a["labels"]["alertname"] for a in ingest.active_alerts()] == ["NobodyOwnsMe2"]


def test_generic_door_routes_by_service_name_and_by_labels(ingest):
    r = ingest.generic([
        {"service": "ops-fallback", "summary": "by name", "labels": {"job": "postgres"}},
        {"summary": "by labels", "labels": {"job": "postgres", "alertname": "G"}},
    ])
    assert r.status == 202, r
    assert [a["service"] for a in r.body["alerts"]] == ["ops-fallback", "ops-db"], r.body
