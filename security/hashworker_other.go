//go:build !linux

package security

import (
	"fmt"
	"syscall"
)

func workerSysProcAttr() *syscall.SysProcAttr { return nil }

// lowerPriority is only implemented on Linux; elsewhere the worker runs at normal priority (still
// with its own garbage collector).
func lowerPriority(mode string) error { return fmt.Errorf("not supported on this system") }
