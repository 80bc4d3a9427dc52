// Package kube is the client-side view of the embedded cluster's API: the
// kinds it serves (every kind metallb/api decodes, plus core v1 Event), the
// Kubernetes REST paths they live at, Kubernetes-style errors (Status with a
// reason and an HTTP code), list, watch, delete and apply options, and the
// Interface that both the in-process store and the HTTP client implement.
//
// Controllers, the speaker and the CLI are written against Interface, so a
// real API server (through a kubeconfig) can later sit behind the same calls.
package kube
