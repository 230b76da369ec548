// Command coredns is CoreDNS (github.com/coredns/coredns) with only the plugins the test
// cluster's DNS uses, so it builds without the cloud DNS SDKs of the full plugin set. See
// ../build.sh and ../up.sh (the Corefile). Plugin order comes from CoreDNS's own directive
// list (core/dnsserver), not from the order of these imports.
package main

import (
	_ "github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/whoami"
	"github.com/coredns/coredns/coremain"
)

func main() {
	coremain.Run()
}
