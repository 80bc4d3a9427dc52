package kube

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"github.com/onp-lab/onp/metallb/api"
)

// Recorder records Events about objects, as client-go's event recorder
// does: a repeat of the same reason and message on the same object bumps
// the existing event's count and last timestamp instead of adding one.
type Recorder struct {
	Client    Interface
	Component string
	Host      string
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Event records an event about obj. eventType is EventNormal or
// EventWarning.
func (r *Recorder) Event(ctx context.Context, obj api.Object, eventType, reason, message string) error {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	t := now().UTC().Truncate(time.Second)
	m := obj.Meta()
	k, _ := KindOf(obj)
	ns := m.Namespace
	if ns == "" {
		ns = "default"
	}
	ref := api.ObjectReference{Kind: k.GVK.Kind, Namespace: m.Namespace, Name: m.Name, UID: m.UID, APIVersion: k.GVK.APIVersion, ResourceVersion: m.ResourceVersion}
	// One event per object, type, reason, message and component: a
	// repeat finds it by name.
	sum := sha256.Sum256([]byte(strings.Join([]string{m.UID, k.GVK.Kind, m.Namespace, m.Name, eventType, reason, message, r.Component}, "\x00")))
	name := fmt.Sprintf("%s.%x", m.Name, sum[:8])
	if len(name) > 253 {
		name = fmt.Sprintf("%x", sum[:16])
	}
	for range 3 {
		cur, err := Get[Event](ctx, r.Client, ns, name)
		if err == nil {
			cur.Count++
			cur.LastTimestamp = &t
			cur.InvolvedObject.ResourceVersion = ref.ResourceVersion
			_, err = r.Client.Update(ctx, cur)
			if IsConflict(err) {
				continue
			}
			return err
		}
		if !IsNotFound(err) {
			return err
		}
		e := &Event{
			ObjectMeta:         api.ObjectMeta{Name: name, Namespace: ns},
			InvolvedObject:     ref,
			Reason:             reason,
			Message:            message,
			Source:             EventSource{Component: r.Component, Host: r.Host},
			FirstTimestamp:     &t,
			LastTimestamp:      &t,
			Count:              1,
			Type:               eventType,
			ReportingComponent: r.Component,
			ReportingInstance:  r.Host,
		}
		e.SetGVK(api.GVK{APIVersion: api.CoreV1, Kind: "Event"})
		_, err = r.Client.Create(ctx, e)
		if IsAlreadyExists(err) {
			continue
		}
		return err
	}
	return Conflict(eventKind, name, "the event keeps changing")
}

// EventsFor lists the events about one object, oldest first.
func EventsFor(ctx context.Context, c Interface, obj api.Object) ([]*Event, error) {
	m := obj.Meta()
	ns := m.Namespace
	if ns == "" {
		ns = "default"
	}
	evs, _, err := ListOf[Event](ctx, c, ns, ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []*Event
	for _, e := range evs {
		if e.InvolvedObject.Name == m.Name && strings.EqualFold(e.InvolvedObject.Kind, obj.GVK().Kind) && (m.UID == "" || e.InvolvedObject.UID == m.UID) {
			out = append(out, e)
		}
	}
	return out, nil
}
