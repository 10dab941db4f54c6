//go:build unix

package forward

import (
	"os"
	"syscall"
)

// lockDir takes an exclusive, non-blocking lock on dir/.lock; the kernel drops it when the
// process dies, so an abandoned spool is recognisable by a lock anyone can take.
func lockDir(dir string) (*os.File, bool) {
	f, err := os.OpenFile(dir+"/.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return f, true
}
