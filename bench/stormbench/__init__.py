"""Outage storm: 1,000 calls arriving within 60 s on 50 advisors, through the real waiting line.

What it measures. Every caller is the demo contact (PIN, then 0: "next available advisor"), so
nearly everyone lands in the one general line at once. The script runs the service as it runs in
production: `gunicorn --workers 2` on PostgreSQL and Redis, the `supportline dispatcher` loop as
its own process, and the carrier's REST API played by `twilio_doubles/fake_twilio.py` (the service's
`TwilioTelephony` points at it through TWILIO_API_BASE). Each call is one thread that behaves as
Twilio and the caller would together: it posts signed webhooks and follows their TwiML; on a hold
answer it waits (on an event, real time) for the hold round to end (the Pause, 30 s) and posts the
Redirect, unless the dispatcher redirects the call first (REST update to /voice/connect), which it
follows at once; once put through it accepts the whisper as the advisor, talks for `--talk`
seconds (+/-50 %), then posts the Dial result and the status callback. A small share of callers
give up after a while in line: some press 1 then 2 (callback request), some hang up.

It prints:
  * errors (target 0): non-200 answers, transport errors, the service's fault fallback TwiML, and
    TwiML the caller did not expect at that point;
  * double bookings (target 0): an advisor put through to a call while the bench still has them
    talking on another (the bench frees an advisor before it posts the Dial result);
  * webhook latency, p50/p90/p99/max overall and p50/p99/max by step;
  * the wait distribution the line produced: per caller put through, seconds from joining the line
    (the first hold answer) to being put through (the Dial answer); p50/p90/p99/max and a
    histogram (answered without waiting, < 15 s, 15-30, 30-60, 60-120, > 120 s); how many callers
    left with a callback request and how many hung up; whether the line was first come, first
    served; the expected wait the first hold prompt announced against the wait that followed
    (median and p90 ratio, p50 and p90 absolute error in seconds);
  * redirects the carrier accepted for a caller who was not waiting (being put through, talking,
    gone): not followed, counted, and shown with what the advisor they name was doing;
  * latency by the length of the line when the request was sent (hold webhooks read the line);
  * the service's side: its call log for these calls (does it agree with the callers?), the line,
    offers and advisors' presence once every call ended, and what the service and dispatcher
    logged (faults, tracebacks, warnings).

Operations (issue #8):
  * `--processes N` runs N gunicorn services on ports PORT..PORT+N-1 against the same database and
    Redis, behind one PUBLIC_BASE_URL (http://127.0.0.1:PORT, "the load balancer"): the client sends
    each request, carrier redirects included, to the next process in turn (round-robin).
  * `--restart-redis-at S` runs the storm on a private `redis-server` (a free port, no persistence;
    never the shared 6379; `--private-redis` does that without a restart), and S seconds into the
    storm kills it (SIGKILL) and starts it again, empty, `--redis-downtime` seconds later. The
    services, the dispatcher and a `supportline worker` (always started: it replays the call-log
    records spooled while the database was down) all use it.
  * It then also prints: errors split into hard errors (non-200, transport), fallback TwiML and
    unexpected TwiML, and the faults the service logged by step; call-log rows lost (calls placed
    with no row once the worker had time to replay the spool; target 0); callers sent back to the
    greeting (their state was lost) and callers dropped (the call ended on an error); double
    bookings before, during and after the outage; p99 webhook latency overall and in the window
    around the restart. An advisor the bench has talking answers a second Dial busy, as a phone
    on a call does (the Dial still counts as a double booking). A caller sent back to the greeting
    goes through it again (PIN, 0), unless their conversation was over: then they hang up.

How to run (PostgreSQL at 127.0.0.1:5432, user postgres, trust auth; Redis at 127.0.0.1:6379):

    . .venv/bin/activate
    python bench/storm.py                        # 1000 calls in 60 s, 50 advisors: about 8 minutes
    python bench/storm.py --calls 200 --arrival-seconds 20 --advisors 20 --talk 8   # a short one
    python bench/storm.py --skip-setup --json /tmp/storm.json
    python bench/storm.py --processes 2 --restart-redis-at 30   # two services, Redis killed at 30 s

Setup (skipped with --skip-setup, except the advisors' sign-in): drops and recreates its own
database `supportline_storm`, runs `supportline db upgrade` and loads casestore/demo/demo.yaml, then
adds "Storm Advisor NNN" advisors (an interchange file) until `--advisors` are active, and signs
exactly those in (`supportline presence set available ...`). It always flushes Redis db 13 (only).
Secrets are random per setup and kept in $TMPDIR/supportline_storm/, with the logs of the service
(service.log; service-1.log, service-2.log ... with --processes), the dispatcher (dispatcher.log),
the worker (worker.log) and the private redis-server (redis.log); the services' instance folder
(the call-log spool file) is $TMPDIR/supportline_storm/instance. The service runs in development mode for
its clock only (SUPPORTLINE_CLOCK_START: a Tuesday 10:00 in Chicago, open hours), as bench/calls.py
does; its setup helpers, servers, signed transport and percentiles are reused from there.

Layout: bench/storm.py only calls `stormbench.cli.main`. The package, in the order a run uses it:
  * `shared`: where bench/calls.py and the fake carrier come from, and
    the names several parts use (the storm's database, Redis db and folder, the service's keys);
  * `setup`: the storm's database, environment and advisors, and the demo caller;
  * `services`: the dispatcher and worker processes, a private redis-server and its restart;
  * `board`: what the callers share (call plans and records, the Board, the Storm, the
    round-robin connection pool);
  * `callers`: one Caller per call, playing Twilio and the caller, and how it reads TwiML;
  * `run`: the whole run (start everything, release the callers, wait for the spool, collect);
  * `figures`: the figures from the records, the service's side and its logs, the report;
  * `report`: printing the figures and the targets, the JSON file;
  * `cli`: the options and `main`.
"""
