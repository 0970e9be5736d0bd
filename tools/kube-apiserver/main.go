// Command kube-apiserver is the upstream Kubernetes API server, built from Go modules so the test
// suite can run real RBAC and SubjectAccessReview without downloading release binaries.
// scripts/ensure-kube-apiserver.sh builds it once into the tool cache; see docs/kubernetes.md.
package main

import (
	"os"
	_ "time/tzdata"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
