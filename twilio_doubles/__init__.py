"""Stand-ins for Twilio, shared by the tests, the benches, the console's test call and `supportline call`.

* `twilio_doubles.simulator`: the call simulator, Twilio's webhook side: it plays a caller through
  the real app in-process (signed requests, TwiML followed, Gathers and Dials answered).
* `twilio_doubles.dryrun`: a dry run of the simulator against the configured database and routing
  tables, inside a transaction that is rolled back, with a private Redis (the console's test call
  and `supportline call`).
* `twilio_doubles.fake_twilio`: a fake Twilio REST server (real HTTP on 127.0.0.1) for the tests
  and the storm bench.

It is shipped code (the console and the CLI use it) and imports the app (`webhooks.app`) and what
lies below; no layer of the service imports it except those edges.
"""
