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
// Handler serves the FIS-shaped API; mount it under a prefix with http.StripPrefix:
//
//	POST   /experimentTemplates        {description, targets, actions, stopConditions, tags} → {experimentTemplate}
//	GET    /experimentTemplates        → {experimentTemplates: [...]}
//	GET    /experimentTemplates/{id}   → {experimentTemplate}
//	DELETE /experimentTemplates/{id}   → {experimentTemplate}
//	POST   /experiments                {experimentTemplateId, tags} → {experiment}
//	GET    /experiments                → {experiments: [...]}
//	GET    /experiments/{id}           → {experiment}
//	DELETE /experiments/{id}           stop → {experiment} (status stopping)
//
// Times are epoch seconds, as in AWS's REST JSON. Errors are {"__type", "message"} with FIS's
// types: ValidationException (400, the message starts with the field's path, e.g.
// "actions.fault.parameters.percentage: ..."), ResourceNotFoundException (404),
// ConflictException (409, e.g. stopping an experiment that has ended).
//
// Scenario builds the templates of the built-in scenarios that `azlens up --scenario` runs.
package experiment
