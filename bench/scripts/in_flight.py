"""Sends N unfinished runs (enqueue + start spans of the tasklens conventions, started 1 to 60
minutes ago, of the demo's task types) to a collector over OTLP/HTTP JSON."""
import json, os, random, sys, time, urllib.request

endpoint, n = sys.argv[1], int(sys.argv[2])
types = ["score_message", "embed_messages_batch", "ingest_telegram_messages", "embed_atoms_batch",
         "extract_knowledge_from_messages", "score_unscored_messages", "scheduled_knowledge_extraction",
         "scheduled_auto_approval", "scheduled_notification_alert", "scheduled_daily_digest"]
rng = random.Random(7)
now = time.time_ns()
def s(k, v): return {"key": k, "value": {"stringValue": v}}
def i(k, v): return {"key": k, "value": {"intValue": str(v)}}
spans = []
for r in range(n):
    task, tid = rng.choice(types), f"inflight-{r}"
    trace, enq, run = os.urandom(16).hex(), os.urandom(8).hex(), os.urandom(8).hex()
    enqueued = now - rng.randint(60, 3600) * 10**9
    started = enqueued + 40 * 10**6
    common = [s("tasklens.task.name", task), s("tasklens.task.id", tid), i("tasklens.task.attempt", 0)]
    spans.append({"traceId": trace, "spanId": enq, "name": f"enqueue {task}", "kind": 4,
                  "startTimeUnixNano": str(enqueued), "endTimeUnixNano": str(enqueued + 1000),
                  "attributes": common + [s("tasklens.task.params", "{}")]})
    if r % 2 == 0:  # half running, half still pending
        spans.append({"traceId": trace, "spanId": os.urandom(8).hex(), "parentSpanId": run,
                      "name": f"start {task}", "kind": 1, "startTimeUnixNano": str(started),
                      "endTimeUnixNano": str(started),
                      "attributes": common + [s("tasklens.task.state", "running"),
                                              i("tasklens.task.enqueued_at_unix_nano", enqueued)]})
for chunk in range(0, len(spans), 500):
    body = json.dumps({"resourceSpans": [{"resource": {"attributes": [s("service.name", "bench")]},
                                          "scopeSpans": [{"spans": spans[chunk:chunk + 500]}]}]}).encode()
    req = urllib.request.Request(f"{endpoint}/v1/traces", body, {"content-type": "application/json"})
    with urllib.request.urlopen(req) as answer:
        assert answer.status == 200, answer.status
print(f"sent {n} unfinished runs ({len(spans)} spans)")
