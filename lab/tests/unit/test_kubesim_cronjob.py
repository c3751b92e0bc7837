"""CronJob startingDeadlineSeconds, missed schedules and timeZone, as the CronJob concept page and the CronJob
controller describe them.

* ``startingDeadlineSeconds``: a run missed by more than that many seconds is not started (the controller looks
  for schedules only after now minus the deadline); a later one within the deadline is.
* Without a deadline, every schedule since the last one counts as missed; the latest is started, and more than
  100 missed give the controller's TooManyMissedTimes warning.
* ``timeZone``: the schedule is read in that IANA zone (a wall-clock time skipped by daylight saving does not
  run); an unknown zone is refused by the apiserver, and a CronJob holding one gets UnknownTimeZone and no runs.

The controller's clock is the ``kubesim.voicehive.io/simulated-time`` annotation: no real-time waits.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import kubesim_world
import pytest

from kubesim import discovery
from kubesim.api import Api
from kubesim.controller import SIMULATED_TIME, Controller
from kubesim.cron import CronError, most_recent, next_after, zone
from kubesim.store import ApiError, Store
from kubesim.table import row_for

NS = discovery.lookup("", "v1", "namespaces")
CRON = discovery.lookup("batch", "v1", "cronjobs")
CREATED = "2026-12-07T20:00:00Z"  # every CronJob here was created then


@pytest.fixture
def world() -> tuple[Store, Api, Controller]:
    return kubesim_world.make(nodes=())


def cronjob(api: Api, store: Store, name: str, schedule: str, **spec: Any) -> None:
    """Create a CronJob whose clock starts at its creation (simulated time, no real-time runs)."""
    template = {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox:1.36"}]}}
    body = {"metadata": {"name": name}, "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": template}},
                                                 **spec}}  # fmt: skip
    body["metadata"]["annotations"] = {SIMULATED_TIME: CREATED}
    api.create(CRON, "w", body)
    store.objects["batch/cronjobs"][("w", name)]["metadata"]["creationTimestamp"] = CREATED


def at(api: Api, ctl: Controller, name: str, when: str) -> None:
    """Move the CronJob controller's clock for ``name`` to ``when`` and let it act."""
    body = {"metadata": {"annotations": {SIMULATED_TIME: when}}}
    api.patch(CRON, "w", name, "application/merge-patch+json", body)
    ctl.settle()


def job_names(store: Store, owner: str) -> list[str]:
    return sorted(
        j["metadata"]["name"]
        for j in store.objects["batch/jobs"].values()
        if j["metadata"]["ownerReferences"][0]["name"] == owner
    )


def events(store: Store, name: str) -> list[tuple[str, str, str, int]]:
    return [
        (e["type"], e["reason"], e["message"], e["count"])
        for e in store.objects["events"].values()
        if e["involvedObject"]["name"] == name and e["reason"] != "SuccessfulCreate"
    ]


def minute(stamp: str) -> int:
    return int(dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()) // 60


def test_a_run_missed_by_more_than_the_starting_deadline_is_not_started(world: Any) -> None:
    store, api, ctl = world
    cronjob(api, store, "strict", "*/5 * * * *", startingDeadlineSeconds=60)
    cronjob(api, store, "lenient", "*/5 * * * *")
    for name in ("strict", "lenient"):
        at(api, ctl, name, "2026-12-07T20:08:00Z")  # the 20:05 run, 3 minutes late
    assert job_names(store, "strict") == []
    assert "lastScheduleTime" not in (api.get(CRON, "w", "strict").get("status") or {})
    assert job_names(store, "lenient") == [f"lenient-{minute('2026-12-07T20:05:00Z')}"]
    at(api, ctl, "strict", "2026-12-07T20:10:30Z")  # the 20:10 run, within the deadline
    assert job_names(store, "strict") == [f"strict-{minute('2026-12-07T20:10:00Z')}"]
    assert api.get(CRON, "w", "strict")["status"]["lastScheduleTime"] == "2026-12-07T20:10:00Z"
    with pytest.raises(ApiError) as err:
        cronjob(api, store, "bad", "*/5 * * * *", startingDeadlineSeconds=-1)
    assert err.value.details["causes"][0]["field"] == "spec.startingDeadlineSeconds"


def test_more_than_100_missed_schedules_warn_and_start_the_latest(world: Any) -> None:
    store, api, ctl = world
    cronjob(api, store, "often", "* * * * *")
    cronjob(api, store, "bounded", "* * * * *", startingDeadlineSeconds=120)
    late = "2026-12-08T00:00:30Z"  # 240 minutes of missed schedules
    for name in ("often", "bounded"):
        at(api, ctl, name, late)
        at(api, ctl, name, late)  # the controller looks again: no second warning for the same state
    message = "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"
    assert events(store, "often") == [("Warning", "TooManyMissedTimes", message, 1)]
    assert job_names(store, "often") == [f"often-{minute('2026-12-08T00:00:00Z')}"]  # the latest one runs
    assert api.get(CRON, "w", "often")["status"]["lastScheduleTime"] == "2026-12-08T00:00:00Z"
    assert events(store, "bounded") == []  # a deadline bounds what counts as missed
    assert job_names(store, "bounded") == [f"bounded-{minute('2026-12-08T00:00:00Z')}"]
    latest, missed = most_recent(
        "0 * * * *", dt.datetime(2026, 12, 7, 20, tzinfo=dt.UTC), dt.datetime(2026, 12, 12, 0, 30, tzinfo=dt.UTC)
    )
    assert (latest, missed) == (dt.datetime(2026, 12, 12, 0, tzinfo=dt.UTC), 100)


def test_time_zone_reads_the_schedule_in_that_zone(world: Any) -> None:
    store, api, ctl = world
    cronjob(api, store, "tokyo", "0 9 * * *", timeZone="Asia/Tokyo")
    cronjob(api, store, "utc", "0 9 * * *")
    assert row_for("CronJob", api.get(CRON, "w", "tokyo"))[2] == "Asia/Tokyo"
    for name in ("tokyo", "utc"):
        at(api, ctl, name, "2026-12-08T00:01:00Z")  # 09:01 in Tokyo
    assert job_names(store, "utc") == []
    (name,) = job_names(store, "tokyo")
    job = store.objects["batch/jobs"][("w", name)]
    assert name == f"tokyo-{minute('2026-12-08T00:00:00Z')}"
    assert job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == (
        "2026-12-08T09:00:00+09:00"
    )
    assert api.get(CRON, "w", "tokyo")["status"]["lastScheduleTime"] == "2026-12-08T00:00:00Z"
    # daylight saving: 02:30 does not exist in New York on 2027-03-14, so that day has no run
    new_york = zoneinfo.ZoneInfo("America/New_York")
    start = dt.datetime(2027, 3, 13, 12, tzinfo=dt.UTC)
    assert next_after("30 2 * * *", start, new_york) == dt.datetime(2027, 3, 15, 6, 30, tzinfo=dt.UTC)
    assert next_after("30 2 * * *", start, zone(None)) == dt.datetime(2027, 3, 14, 2, 30, tzinfo=dt.UTC)


def test_an_unknown_time_zone_is_refused_and_a_cronjob_holding_one_never_runs(world: Any) -> None:
    store, api, ctl = world
    for bad, why in (("Mars/Olympus", "unknown time zone Mars/Olympus"), ("Local", "unknown time zone Local")):
        with pytest.raises(ApiError) as err:
            cronjob(api, store, "mars", "* * * * *", timeZone=bad)
        assert err.value.code == 422
        assert err.value.details["causes"][0] == {
            "reason": "FieldValueInvalid",
            "field": "spec.timeZone",
            "message": f'Invalid value: "{bad}": {why}',
        }
    with pytest.raises(CronError):
        zone("../etc/passwd")
    # a zone the apiserver knew and the controller-manager does not (state written by another version)
    cronjob(api, store, "mars", "* * * * *", timeZone="Europe/Paris")
    stored = store.objects["batch/cronjobs"][("w", "mars")]
    stored["spec"]["timeZone"] = "Mars/Olympus"
    for when in ("2026-12-07T20:10:00Z", "2026-12-07T20:20:00Z"):
        stored["metadata"]["annotations"][SIMULATED_TIME] = when
        ctl.settle()
    assert job_names(store, "mars") == []
    assert "lastScheduleTime" not in (api.get(CRON, "w", "mars").get("status") or {})
    warning = 'invalid timeZone: "Mars/Olympus": unknown time zone Mars/Olympus'
    assert events(store, "mars") == [("Warning", "UnknownTimeZone", warning, 1)]
