// Package faults holds quietpager's fault-test suite: real replicas (the
// built binary, killed with SIGKILL), real Alertmanagers, a real
// PostgreSQL that is stopped and started, and Slack and SMTP that fail for
// a while. Its tests only build with the faults tag:
//
//	go test -tags faults -count=1 -v ./faults/
//
// docs/faults.md says what each case proves.
package faults
