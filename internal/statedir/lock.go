package statedir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/claude-bottle/bottle/internal/bottle"
)

// Lock is an exclusive lock on a state dir, held by a running launcher. It
// dies with the process that holds it, so a SIGKILLed launcher leaves an
// unlocked dir.
type Lock struct{ f *os.File }

// Acquire takes the dir's lock without waiting; it fails when another
// process holds it.
func Acquire(dir string) (*Lock, error) {
	f, err := os.OpenFile(filepath.Join(dir, bottle.LockFile), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state dir lock: %w", err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("state dir lock: %s is not a regular file", filepath.Join(dir, bottle.LockFile))
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("state dir %s is locked by another bottle-launch", dir)
		}
		return nil, fmt.Errorf("state dir lock: %w", err)
	}
	return &Lock{f: f}, nil
}

// File is the open lock file. The lock belongs to the open file, not to
// the process: a child that inherits it (exec.Cmd's ExtraFiles) holds the
// lock too, until every copy is closed — so it outlives a killed parent.
func (l *Lock) File() *os.File { return l.f }

// Adopt is the lock held through a lock file a parent passed down.
func Adopt(f *os.File) *Lock { return &Lock{f: f} }

// Release drops the lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Locked reports whether a live process holds dir's lock. Only a regular
// lock file is opened, without blocking: a FIFO named .lock never hangs it
// (and locks nothing).
func Locked(dir string) bool {
	f, err := os.OpenFile(filepath.Join(dir, bottle.LockFile), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
