"""Code shared by the Spillway Lambda functions (bundled into every function's asset).

Layers, as in the handler cookbook: handlers (functions/*/handler.py) parse and shape; logic modules
decide; the data-access modules talk to AWS, with clients passed in, and turn AWS errors into
``spillway_core.errors``: ``event_store`` and ``domain_store`` (DynamoDB) and ``alerts`` (SNS) here,
and the notifier's ``digests`` (DynamoDB, SQS). Clients are built in one place, ``aws``; the
notifier's handler also reads its Slack URL from Secrets Manager and posts to Slack.

``PUBLIC_API`` lists the modules that code outside the functions (the ``spillway`` CLI, the
benchmarks, the CDK app) may import; the rest are the functions' internals (their settings, the
client factory, the alert publisher, the processor's light reader of stored events).
``tests/unit/test_import_rules.py`` holds that, and that none of them imports a function's handler or
logic module or anything under tests/. docs/architecture.md has the map.
"""

PUBLIC_API = (
    "spillway_core.domain",  # the effect an event has (plan_effect), lead state and its rules
    "spillway_core.domain_store",  # reading and applying effects in the domain table
    "spillway_core.environment",  # the functions' environment variables: names, defaults, bounds
    "spillway_core.errors",  # the domain exceptions the stores raise
    "spillway_core.event_store",  # the events table: filters, summaries, replay
    "spillway_core.http",  # a webhook request as the ingest reads it
    "spillway_core.keys",  # dedupe and domain keys, tenants
    "spillway_core.lanes",  # which lane an event type runs in; probes and watermarks
    "spillway_core.lifecycle",  # sweep shards and due times
    "spillway_core.metrics",  # metric names the functions emit and the alarms watch
    "spillway_core.payloads",  # the provider payload models and normalisation
    "spillway_core.status",  # event statuses and attribute names
)
