// Package experiment is the emulator's fault-injection service, shaped like AWS Fault Injection
// Service (FIS): experiment templates name targets (zones, or execution environments in zones),
// actions (what fault, for how long, after which other action) and stop conditions (alarms that
// end the experiment early); experiments are runs of a template with FIS's states
// (pending → initiating → running → completed, or stopping → stopped, or failed) and per-action
// states and times. An injected clock drives durations and ticks, so tests run minutes of
// experiment in microseconds.
//
// Faults act inside the sandboxes through emulator.Hooks: the region asks HooksFor(zone, index)
// once per execution environment, and the hooks read the faults in force at call time from an
// atomically swapped snapshot, so the invoke path takes no lock.
//
// Actions and their parameters (strings, as in FIS). Every action takes "duration", an ISO 8601
// duration as FIS writes it ("PT2M") or a Go duration ("2m"), at most 12 h; without it the action
// lasts until the experiment is stopped. "duration" is always how long the action runs; the size
// of a delay is its own parameter:
//
//	azlens:invoke:add-latency   latency ("200ms", required), percentage (0–100, default 100)
//	azlens:invoke:inject-error  percentage (default 100), errorType (default Sandbox.Failure)
//	azlens:zone:crash           mode: blackhole (default; invocations fail with Sandbox.Timeout
//	                            after Config.InvocationTimeout) or refuse (fail at once with
//	                            Sandbox.Failure); the environments also send no telemetry
//	azlens:telemetry:drop       percentage (default 100) of Telemetry API events lost
//	azlens:telemetry:delay      delay ("5s", required) added to every Telemetry API batch
//	azlens:cpu:stress           workers (1–64, default 1), load (% busy, default 100): busy
//	                            goroutines in THIS process; it takes no target. In process mode the
//	                            function's own process is slowed only as far as it shares the CPUs.
//	azlens:wait                 nothing, for its duration (as aws:fis:wait)
//
// The same faults have FIS-style ids in the azlens:lambda namespace — azlens:lambda:inject-errors,
// azlens:lambda:inject-latency, azlens:lambda:crash, azlens:lambda:drop-telemetry — and FIS's own
// Lambda actions map onto them where the semantics match (fis.go): aws:lambda:invocation-error
// (preventExecution true), aws:lambda:invocation-add-delay (startupDelayMilliseconds) and
// aws:lambda:invocation-http-integration-response (5xx status codes). Targets are azlens:zone,
// azlens:environment or FIS's aws:lambda:function, narrowed to zones by AZ ID with a filter
// {"path": "AvailabilityZoneId", "values": [...]}, parameters.availabilityZoneIdentifier, or the
// azlens shorthand "zones". Stop conditions name alarms: azlens:alarm with the alarm's name, or
// FIS's aws:cloudwatch:alarm with an alarm ARN whose last part is that name.
//
// Handler serves FIS's REST-JSON protocol, so `aws fis … --endpoint-url` and the AWS SDKs' fis
// client work unchanged; mount it at the root or under a prefix with http.StripPrefix:
//
//	POST   /experimentTemplates        CreateExperimentTemplate → {experimentTemplate}
//	GET    /experimentTemplates        ListExperimentTemplates (maxResults, nextToken)
//	GET    /experimentTemplates/{id}   GetExperimentTemplate
//	PATCH  /experimentTemplates/{id}   UpdateExperimentTemplate
//	DELETE /experimentTemplates/{id}   DeleteExperimentTemplate
//	POST   /experiments                StartExperiment {experimentTemplateId, clientToken, tags}
//	GET    /experiments                ListExperiments (experimentTemplateId, maxResults, nextToken)
//	GET    /experiments/{id}           GetExperiment
//	DELETE /experiments/{id}           StopExperiment → {experiment} (status stopping)
//	GET    /actions, /actions/{id}     ListActions, GetAction
//
// roleArn, logConfiguration, experimentReportConfiguration and experimentOptions are accepted and
// ignored (the local region needs no role and keeps no reports).
//
// Times are epoch seconds, as in AWS's REST JSON. Errors are {"__type", "message"} with FIS's
// types: ValidationException (400, the message starts with the field's path, e.g.
// "actions.fault.parameters.percentage: ..."; also stopping an experiment that has ended, which
// FIS's StopExperiment models no conflict for), ResourceNotFoundException (404),
// ConflictException (409, a clientToken reused for another template).
//
// Scenario builds the templates of the built-in scenarios that `azlens up --scenario` runs.
package experiment
