package security

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// schedIdle is Linux's SCHED_IDLE policy: the thread runs only when no other thread wants the CPU.
const schedIdle = 5

// workerSysProcAttr puts the worker in a session of its own, hence (where the kernel groups
// scheduling by session, CONFIG_SCHED_AUTOGROUP) in a scheduling group of its own, whose nice value
// the worker then raises: otherwise the group would compete with other processes at full weight
// whatever its threads' policy. No Pdeathsig: the worker exits when its stdin ends.
func workerSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// lowerPriority sets this process's autogroup to nice 19 and every thread to nice 19 and, for
// "idle", SCHED_IDLE. Threads started later inherit it from the thread that starts them; the loop
// repeats until a pass finds no thread it had not seen.
func lowerPriority(mode string) error {
	if mode != "idle" && mode != "low" {
		return fmt.Errorf("unknown priority %q", mode)
	}
	_ = os.WriteFile("/proc/self/autogroup", []byte("19"), 0) // no autogroups: nothing to do
	seen := map[int]bool{}
	for {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		fresh := 0
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || seen[tid] {
				continue
			}
			seen[tid], fresh = true, fresh+1
			if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, 19); err != nil {
				return fmt.Errorf("nice thread %d: %w", tid, err)
			}
			if mode == "idle" {
				param := struct{ priority int32 }{}
				if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), schedIdle, uintptr(unsafe.Pointer(&param))); e != 0 {
					return fmt.Errorf("SCHED_IDLE thread %d: %w", tid, e)
				}
			}
		}
		if fresh == 0 {
			return nil
		}
	}
}
