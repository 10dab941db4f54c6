// Package e2e holds the azlens-agent's end-to-end tests: the real, stripped azlens-agent binary
// runs as an external extension in a process-mode emulator sandbox beside a real aws-lambda-go
// function, and forwards to a test collector speaking wire format v1.
package e2e
