// Command pause is the pod sandbox ("pause") process for the test cluster's containerd
// (sandbox_image): PID 1 of every pod's sandbox. It holds the pod's namespaces by staying
// alive, reaps any child re-parented to it, and exits 0 on SIGINT or SIGTERM. A static
// binary (CGO_ENABLED=0) in a scratch image; see ../build.sh.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
