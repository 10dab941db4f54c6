// Package procstat reads what Linux says about a process in /proc: its CPU time, a memory figure
// of its status, its state. The emulator reports environments' peak memory and waits for frozen
// ones with it; the benchmarks measure processes (the collector testbed, the agent's RSS) with it.
package procstat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// ticks is USER_HZ, the unit of the CPU times in /proc/PID/stat: 100 on every Linux architecture
// Go supports.
const ticks = 100

// CPU is the process's user plus system time (fields 14 and 15 of /proc/PID/stat).
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return ParseCPU(b)
}

// ParseCPU reads utime+stime from the text of /proc/PID/stat.
func ParseCPU(stat []byte) (time.Duration, error) {
	f, err := fieldsAfterComm(stat)
	if err != nil {
		return 0, err
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name, want at least 13", len(f))
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc stat: utime/stime: %w", err)
	}
	return time.Duration(ut+st) * time.Second / ticks, nil
}

// State is the process's state letter (R, S, D, T, t, Z…).
func State(pid int) (byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	f, err := fieldsAfterComm(b)
	if err != nil || len(f) == 0 || len(f[0]) != 1 {
		return 0, fmt.Errorf("/proc/%d/stat: no state", pid)
	}
	return f[0][0], nil
}

// fieldsAfterComm splits the fields after the command name, which is in parentheses and may hold
// spaces and parentheses itself: the last ')' ends it.
func fieldsAfterComm(stat []byte) ([][]byte, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil, errors.New("/proc stat: no command name")
	}
	return bytes.Fields(stat[i+1:]), nil
}

// StatusKB is a field of /proc/PID/status counted in kB (VmRSS, VmHWM, …), in KiB.
func StatusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	return ParseStatusKB(b, field)
}

// ParseStatusKB reads field (e.g. "VmRSS") from the text of /proc/PID/status.
func ParseStatusKB(status []byte, field string) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte(field+":"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			break
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc status: %s: %w", field, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("/proc status: no %s", field)
}
