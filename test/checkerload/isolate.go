package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"unsafe"

	"github.com/hadns/hadns/test/internal/netns"
)

// Why isolate: on loopback, the kernel processes a received packet in the
// context of the task that sent it, so the listener side of every handshake
// (the SYN, the final ACK, the reset) is charged to the checker's CPU time,
// roughly doubling it. Against real backends that work happens on their
// hosts, and the checker's own receive processing runs in the NIC's softirq.
// To measure the checker alone, the run moves into a private network
// namespace whose loopback steers receive processing (RPS) to the CPUs the
// checker is not pinned to. Nothing outside the namespace changes.

// reexecIsolated runs this program again in new network and mount
// namespaces, with -inner, and returns its exit code.
func reexecIsolated() (int, error) {
	args := append([]string{"-inner"}, os.Args[1:]...)
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS,
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), nil
		}
		return 1, fmt.Errorf("entering a private network namespace (needs root; -isolate=false runs without): %w", err)
	}
	return 0, nil
}

// setupIsolated runs inside the namespaces: loopback up, a private /sys to
// reach this namespace's lo, and RPS steering every received packet to the
// CPUs in rxMask.
func setupIsolated(rxMask uint64) error {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := syscall.Mount("sysfs", "/sys", "sysfs", 0, ""); err != nil {
		return fmt.Errorf("mounting this namespace's /sys: %w", err)
	}
	if err := netns.LoopbackUp(); err != nil {
		return err
	}
	queues, _ := filepath.Glob("/sys/class/net/lo/queues/rx-*/rps_cpus")
	if len(queues) == 0 {
		return fmt.Errorf("no rps_cpus for lo (kernel without RPS?)")
	}
	for _, q := range queues {
		if err := os.WriteFile(q, []byte(strconv.FormatUint(rxMask, 16)), 0o644); err != nil {
			return fmt.Errorf("steering lo's receive processing: %w", err)
		}
	}
	return nil
}

// pinTo binds every thread of this process to the CPUs in mask. Threads
// created later inherit the mask of the thread that creates them, which is
// by then one of these.
func pinTo(mask uint64) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		m := mask
		if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(m), uintptr(unsafe.Pointer(&m))); e != 0 {
			return fmt.Errorf("pinning thread %d: %w", tid, e)
		}
	}
	return nil
}
