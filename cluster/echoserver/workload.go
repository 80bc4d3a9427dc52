// Package echoserver is what the embedded cluster runs for a container: the
// echoserver test images (registry.k8s.io/echoserver and
// e2e-test-images/echoserver) and agnhost's netexec and serve-hostname,
// served as HTTP handlers from the cluster agent on sockets opened in the
// pod's network namespace. It decides which images are supported and what a
// container listens on, and answers requests as those images do.
package echoserver

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/onp-lab/onp/metallb/api"
)

// Workload kinds.
const (
	KindEchoserver    = "echoserver"
	KindNetexec       = "agnhost-netexec"
	KindServeHostname = "agnhost-serve-hostname"
)

// Workload is what one container runs.
type Workload struct {
	Kind string
	// Ports are the TCP ports it listens on, sorted.
	Ports []int
}

// Image repositories the cluster runs, and what they are.
var repos = map[string]string{
	"registry.k8s.io/echoserver":                 KindEchoserver,
	"k8s.gcr.io/echoserver":                      KindEchoserver,
	"gcr.io/google_containers/echoserver":        KindEchoserver,
	"registry.k8s.io/e2e-test-images/echoserver": KindEchoserver,
	"k8s.gcr.io/e2e-test-images/echoserver":      KindEchoserver,
	"registry.k8s.io/e2e-test-images/agnhost":    "agnhost",
	"k8s.gcr.io/e2e-test-images/agnhost":         "agnhost",
}

// SupportedImages lists the supported images for messages.
func SupportedImages() string {
	return "registry.k8s.io/echoserver:*, k8s.gcr.io/echoserver:*, gcr.io/google_containers/echoserver:*, " +
		"registry.k8s.io/e2e-test-images/echoserver:*, registry.k8s.io/e2e-test-images/agnhost:* (netexec, serve-hostname)"
}

// Repository returns an image reference without its tag and digest:
// "registry.k8s.io/echoserver:1.10" → "registry.k8s.io/echoserver".
func Repository(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		image = image[:i]
	}
	return image
}

// Tag returns an image's tag ("latest" when it has none).
func Tag(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		return image[i+1:]
	}
	return "latest"
}

// UnsupportedImageError says an image cannot run in the embedded cluster.
type UnsupportedImageError struct {
	Image  string
	Reason string
}

func (e *UnsupportedImageError) Error() string {
	if e.Reason != "" {
		return e.Reason
	}
	return fmt.Sprintf("image %q is not supported by onp's embedded cluster, which runs only the echoserver test images: %s; "+
		"other images need a real cluster, which onp will reach through a kubeconfig in a later version", e.Image, SupportedImages())
}

// ForContainer says what a container runs, or why it cannot run.
func ForContainer(c api.Container) (Workload, error) {
	kind, ok := repos[Repository(c.Image)]
	if !ok {
		return Workload{}, &UnsupportedImageError{Image: c.Image}
	}
	var w Workload
	ports := map[int]bool{}
	switch kind {
	case KindEchoserver:
		w.Kind = KindEchoserver
		// The image's nginx listens on 8080 whatever the pod declares; other
		// declared TCP ports are served too. 8443 (its HTTPS port) is not.
		ports[8080] = true
		for _, p := range c.Ports {
			if (p.Protocol == "" || p.Protocol == api.ProtocolTCP) && p.ContainerPort > 0 && p.ContainerPort != 8443 {
				ports[int(p.ContainerPort)] = true
			}
		}
	case "agnhost":
		argv := append(append([]string(nil), c.Command...), c.Args...)
		if len(argv) > 0 && (argv[0] == "/agnhost" || argv[0] == "agnhost") {
			argv = argv[1:]
		}
		if len(argv) == 0 {
			return Workload{}, &UnsupportedImageError{Image: c.Image, Reason: fmt.Sprintf(
				"container %q: agnhost needs a subcommand in args, e.g. args: [netexec, --http-port=8080] (onp runs netexec and serve-hostname)", c.Name)}
		}
		flags, err := parseFlags(argv[1:])
		if err != nil {
			return Workload{}, &UnsupportedImageError{Image: c.Image, Reason: fmt.Sprintf("container %q: agnhost %s: %v", c.Name, argv[0], err)}
		}
		switch argv[0] {
		case "netexec":
			w.Kind = KindNetexec
			p, err := portFlag(flags, "http-port", 8080)
			if err != nil {
				return Workload{}, &UnsupportedImageError{Image: c.Image, Reason: fmt.Sprintf("container %q: agnhost netexec: %v", c.Name, err)}
			}
			ports[p] = true
		case "serve-hostname":
			w.Kind = KindServeHostname
			if v, ok := flags["http"]; ok && v == "false" {
				return Workload{}, &UnsupportedImageError{Image: c.Image, Reason: fmt.Sprintf("container %q: agnhost serve-hostname: only --http mode is supported by onp", c.Name)}
			}
			p, err := portFlag(flags, "port", 9376)
			if err != nil {
				return Workload{}, &UnsupportedImageError{Image: c.Image, Reason: fmt.Sprintf("container %q: agnhost serve-hostname: %v", c.Name, err)}
			}
			ports[p] = true
		default:
			return Workload{}, &UnsupportedImageError{Image: c.Image, Reason: fmt.Sprintf(
				"container %q: agnhost subcommand %q is not supported by onp's embedded cluster (supported: netexec, serve-hostname)", c.Name, argv[0])}
		}
	}
	for p := range ports {
		w.Ports = append(w.Ports, p)
	}
	sort.Ints(w.Ports)
	return w, nil
}

// parseFlags reads --name=value, --name value and --flag arguments.
func parseFlags(args []string) (map[string]string, error) {
	out := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return nil, fmt.Errorf("unexpected argument %q", a)
		}
		a = strings.TrimLeft(a, "-")
		if k, v, ok := strings.Cut(a, "="); ok {
			out[k] = v
			continue
		}
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			out[a] = args[i+1]
			i++
			continue
		}
		out[a] = "true"
	}
	return out, nil
}

func portFlag(flags map[string]string, name string, def int) (int, error) {
	v, ok := flags[name]
	if !ok {
		return def, nil
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("--%s=%s is not a port number (1-65535)", name, v)
	}
	return p, nil
}
