package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/api"
)

// txn stages changes over the committed objects; commit makes them visible
// and durable at once, or nothing happens.
type txn struct {
	s      *Store
	staged map[objKey]*entry // nil: deleted
	order  []objKey
	now    time.Time
	// incoming are the objects a client sent, for admission.
	incoming []api.Object
	sources  map[string]api.Source
	// metallb is set when a MetalLB resource is created or changed.
	metallb bool
	// Indexes of the staged entries (keys whose staged version had the
	// value at some point: check the current one): cluster IPs, node ports
	// and owner UIDs.
	stagedIPs   map[netip.Addr][]objKey
	stagedPorts map[int32][]objKey
	stagedOwned map[string][]objKey
}

func (s *Store) begin() *txn {
	return &txn{s: s, staged: map[objKey]*entry{}, now: s.opts.Now().UTC().Truncate(time.Second),
		stagedIPs: map[netip.Addr][]objKey{}, stagedPorts: map[int32][]objKey{}, stagedOwned: map[string][]objKey{}}
}

func (t *txn) get(k objKey) (*entry, bool) {
	if e, ok := t.staged[k]; ok {
		return e, e != nil
	}
	return t.s.lookup(k)
}

func (t *txn) stage(k objKey, e *entry) {
	if _, ok := t.staged[k]; !ok {
		t.order = append(t.order, k)
	}
	t.staged[k] = e
	if e == nil {
		return
	}
	if svc, ok := e.obj.(*api.Service); ok {
		for _, ip := range svc.Spec.ClusterIPs {
			if a, err := netip.ParseAddr(ip); err == nil {
				t.stagedIPs[a] = append(t.stagedIPs[a], k)
			}
		}
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				t.stagedPorts[p.NodePort] = append(t.stagedPorts[p.NodePort], k)
			}
		}
	}
	for _, ref := range e.obj.Meta().OwnerReferences {
		if ref.UID != "" {
			t.stagedOwned[ref.UID] = append(t.stagedOwned[ref.UID], k)
		}
	}
}

// ownedBy reports whether e has an owner reference to uid.
func ownedBy(e *entry, uid string) bool {
	for _, ref := range e.obj.Meta().OwnerReferences {
		if ref.UID == uid {
			return true
		}
	}
	return false
}

// dependents are the objects, committed or staged, with an owner
// reference to uid, sorted by key.
func (t *txn) dependents(uid string) []*entry {
	seen := map[objKey]bool{}
	var keys []objKey
	for _, k := range append(slices.Collect(maps.Keys(t.s.owned[uid])), t.stagedOwned[uid]...) {
		if seen[k] {
			continue
		}
		seen[k] = true
		if e, ok := t.get(k); ok && ownedBy(e, uid) {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.res != b.res {
			return a.res < b.res
		}
		if a.ns != b.ns {
			return a.ns < b.ns
		}
		return a.name < b.name
	})
	out := make([]*entry, len(keys))
	for i, k := range keys {
		out[i], _ = t.get(k)
	}
	return out
}

// resources lists every resource that has objects, committed or staged.
func (t *txn) resources() []string {
	set := map[string]bool{}
	for r := range t.s.objs {
		set[r] = true
	}
	for _, k := range t.order {
		set[k.res] = true
	}
	out := make([]string, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// each calls fn for every object of a resource as the transaction sees it.
func (t *txn) each(res string, fn func(*entry)) {
	for k, e := range t.s.objs[res] {
		if _, ok := t.staged[k]; !ok {
			fn(e)
		}
	}
	for _, k := range t.order {
		if e := t.staged[k]; e != nil && k.res == res {
			fn(e)
		}
	}
}

func newEntry(k api.Kind, o api.Object) *entry {
	return &entry{kind: k, obj: o}
}

// namespaceUsable checks that objects can be created in ns.
func (t *txn) namespaceUsable(ns string) error {
	e, ok := t.get(objKey{"/namespaces", "", ns})
	if !ok {
		return kube.NamespaceNotFound(ns)
	}
	if e.obj.Meta().DeletionTimestamp != nil {
		return kube.NewStatusError(kube.ReasonForbidden, http.StatusForbidden,
			"unable to create new content in namespace %s because it is being terminated", ns)
	}
	return nil
}

func kindOf(o api.Object) (api.Kind, api.Object, error) {
	o = api.Normalize(o)
	k, ok := kube.KindOf(o)
	if !ok {
		return api.Kind{}, nil, kube.BadRequest("%T is not a kind this cluster serves (it serves %s)", o, api.SupportedKinds())
	}
	o.SetGVK(k.GVK)
	return k, o, nil
}

const nameChars = "bcdfghjklmnpqrstvwxz2456789"

func randomSuffix(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = nameChars[int(b[i])%len(nameChars)]
	}
	return string(b)
}

func newUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// prepareMeta checks name and namespace of an incoming object.
func (t *txn) prepareMeta(k api.Kind, o api.Object, create bool) error {
	m := o.Meta()
	if !k.Namespaced {
		m.Namespace = ""
	} else if m.Namespace == "" {
		m.Namespace = "default"
	}
	if m.Name == "" && create && m.GenerateName != "" {
		for range 10 {
			m.Name = m.GenerateName + randomSuffix(5)
			if _, ok := t.get(keyOf(k, m)); !ok {
				break
			}
		}
	}
	if m.Name == "" {
		return kube.Invalid(k, "", kube.FieldError{Field: "metadata.name", Type: "Required", Detail: "name or generateName is required"})
	}
	if err := api.ValidateDNSSubdomain(m.Name); err != nil {
		return kube.Invalid(k, m.Name, kube.FieldError{Field: "metadata.name", Value: m.Name, Detail: err.Error()})
	}
	if k.Namespaced {
		if err := t.namespaceUsable(m.Namespace); err != nil && create {
			return err
		}
	}
	return nil
}

// create stages a new object.
func (t *txn) create(o api.Object) (*entry, error) {
	k, o, err := kindOf(o)
	if err != nil {
		return nil, err
	}
	if err := t.prepareMeta(k, o, true); err != nil {
		return nil, err
	}
	m := o.Meta()
	key := keyOf(k, m)
	if _, ok := t.get(key); ok {
		return nil, kube.AlreadyExists(k, m.Name)
	}
	m.UID = newUID()
	now := t.now
	m.CreationTimestamp = &now
	m.ResourceVersion = ""
	m.Generation = 1
	m.DeletionTimestamp, m.DeletionGracePeriodSeconds, m.ManagedFields, m.SelfLink = nil, nil, nil, ""
	if err := t.defaults(k, o, nil); err != nil {
		return nil, err
	}
	e := newEntry(k, o)
	t.stage(key, e)
	t.note(k, o)
	return e, nil
}

// note remembers what admission must look at.
func (t *txn) note(k api.Kind, o api.Object) {
	t.incoming = append(t.incoming, o)
	if k.GVK.Group() == "metallb.io" && k.GVK.Kind != "MetalLB" {
		t.metallb = true
	}
}

// specOf returns an object's JSON without metadata and status: what a
// generation counts.
func specOf(o api.Object) []byte {
	c := reflect.ValueOf(shallowCopy(o)).Elem()
	for _, f := range []string{"TypeMeta", "ObjectMeta", "Status"} {
		if fv := c.FieldByName(f); fv.IsValid() && fv.CanSet() {
			fv.Set(reflect.Zero(fv.Type()))
		}
	}
	out, _ := json.Marshal(c.Addr().Interface())
	return out
}

// spec returns specOf an entry's object, computed once (with the store
// locked for writing).
func (e *entry) specJSON() []byte {
	if e.spec == nil {
		e.spec = specOf(e.obj)
	}
	return e.spec
}

// replace stages a new version of an existing object: uid, creation time and
// status stay (unless status is true: then only status changes).
func (t *txn) replace(o api.Object, statusOnly bool) (*entry, bool, error) {
	if statusOnly {
		return t.replaceParts(o, replaceStatus)
	}
	return t.replaceParts(o, replaceSpec)
}

// What replaceParts takes from the object it is given.
const (
	replaceSpec   = iota // metadata and spec; the status stays
	replaceStatus        // the status only
	replaceBoth          // metadata, spec and status
)

func (t *txn) replaceParts(o api.Object, parts int) (*entry, bool, error) {
	statusOnly := parts == replaceStatus
	k, o, err := kindOf(o)
	if err != nil {
		return nil, false, err
	}
	if err := t.prepareMeta(k, o, false); err != nil {
		return nil, false, err
	}
	m := o.Meta()
	key := keyOf(k, m)
	old, ok := t.get(key)
	if !ok {
		return nil, false, kube.NotFound(k, m.Name)
	}
	if m.ResourceVersion != "" && m.ResourceVersion != strconv.FormatUint(old.rv, 10) {
		return nil, false, kube.Conflict(k, m.Name, "the object has been modified; please apply your changes to the latest version and try again")
	}
	if m.UID != "" && m.UID != old.obj.Meta().UID {
		return nil, false, kube.Conflict(k, m.Name, fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", m.UID, old.obj.Meta().UID))
	}
	var next api.Object
	var spec []byte
	if statusOnly {
		if !hasStatus(k) {
			return nil, false, kube.NewStatusError(kube.ReasonNotFound, http.StatusNotFound, "%s have no status subresource", kube.GroupResource(k))
		}
		next = withStatus(old.obj, o)
	} else {
		next = o
		nm, om := next.Meta(), old.obj.Meta()
		nm.UID, nm.CreationTimestamp, nm.Generation = om.UID, om.CreationTimestamp, om.Generation
		nm.DeletionTimestamp, nm.DeletionGracePeriodSeconds = om.DeletionTimestamp, om.DeletionGracePeriodSeconds
		nm.ManagedFields, nm.SelfLink, nm.GenerateName = nil, "", om.GenerateName
		if hasStatus(k) && parts == replaceSpec {
			next = withStatus(next, old.obj)
		}
		if err := t.defaults(k, next, old.obj); err != nil {
			return nil, false, err
		}
		spec = specOf(next)
		if !bytes.Equal(spec, old.specJSON()) {
			next.Meta().Generation++
		}
	}
	if unchanged(next, old) {
		next.Meta().ResourceVersion = ""
		return old, false, nil
	}
	next.Meta().ResourceVersion = ""
	// An object being deleted goes once its last finalizer is removed.
	if m := next.Meta(); m.DeletionTimestamp != nil && len(m.Finalizers) == 0 && !isPod(k) {
		if err := t.remove(key, old); err != nil {
			return nil, false, err
		}
		return old, true, nil
	}
	e := newEntry(k, next)
	if spec != nil {
		e.spec = spec
	} else if statusOnly {
		e.spec = old.spec
	}
	t.stage(key, e)
	if !statusOnly {
		t.note(k, next)
	}
	return e, true, nil
}

func isPod(k api.Kind) bool { return k.GVK.Kind == "Pod" && k.GVK.Group() == "" }

// hasStatus reports whether a kind has a status subresource.
func hasStatus(k api.Kind) bool {
	f, ok := reflect.TypeOf(k.New()).Elem().FieldByName("Status")
	return ok && f.Type.Kind() != reflect.String
}

// shallowCopy returns a copy of an object's struct: its own metadata and
// status structs, sharing slices, maps and pointers with o.
func shallowCopy(o api.Object) api.Object {
	v := reflect.ValueOf(o).Elem()
	n := reflect.New(v.Type())
	n.Elem().Set(v)
	return n.Interface().(api.Object)
}

// withStatus returns a copy of base with src's status. The copy shares
// what it does not change with base and src: stored objects are never
// changed, and the transaction owns the objects it was given.
func withStatus(base, src api.Object) api.Object {
	out := shallowCopy(base)
	sv := reflect.ValueOf(src).Elem().FieldByName("Status")
	reflect.ValueOf(out).Elem().FieldByName("Status").Set(sv)
	return out
}

// unchanged reports whether next is what is stored as old, resource
// version aside: next's JSON with old's version is old's stored JSON.
func unchanged(next api.Object, old *entry) bool {
	raw := old.raw
	if raw == nil {
		// Staged in this transaction.
		raw, _ = json.Marshal(old.obj)
	}
	m := next.Meta()
	m.ResourceVersion = old.obj.Meta().ResourceVersion
	b, err := json.Marshal(next)
	return err == nil && bytes.Equal(b, raw)
}

// apply creates or updates an object as kubectl apply does: labels and
// annotations are merged with what the user applied before, the rest of
// the object is what the user gives now, server-set fields (uid, creation
// time, status, ClusterIP, node ports) stay.
func (t *txn) apply(o api.Object) (*entry, string, error) {
	k, o, err := kindOf(o)
	if err != nil {
		return nil, "", err
	}
	if err := t.prepareMeta(k, o, true); err != nil {
		if !kube.IsNotFound(err) && !kube.IsForbidden(err) {
			return nil, "", err
		}
		if _, exists := t.get(keyOf(k, o.Meta())); !exists {
			return nil, "", err
		}
	}
	if o.Meta().Name == "" {
		return nil, "", kube.Invalid(k, "", kube.FieldError{Field: "metadata.name", Type: "Required",
			Detail: "name is required: apply cannot use generateName (use onp create)"})
	}
	applied := lastApplied(o)
	key := keyOf(k, o.Meta())
	old, exists := t.get(key)
	if !exists {
		if o.Meta().Annotations == nil {
			o.Meta().Annotations = map[string]string{}
		}
		o.Meta().Annotations[LastAppliedAnnotation] = applied
		e, err := t.create(o)
		if err != nil {
			return nil, "", err
		}
		return e, kube.ActionCreated, nil
	}
	om := old.obj.Meta()
	var prev struct {
		Metadata struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if s := om.Annotations[LastAppliedAnnotation]; s != "" {
		json.Unmarshal([]byte(s), &prev)
	}
	m := o.Meta()
	m.Labels = merge3(om.Labels, prev.Metadata.Labels, m.Labels)
	anns := merge3(om.Annotations, prev.Metadata.Annotations, m.Annotations)
	if anns == nil {
		anns = map[string]string{}
	}
	anns[LastAppliedAnnotation] = applied
	m.Annotations = anns
	if len(m.OwnerReferences) == 0 {
		m.OwnerReferences = om.OwnerReferences
	}
	if m.Finalizers == nil {
		m.Finalizers = om.Finalizers
	}
	m.ResourceVersion, m.UID = "", ""
	e, changed, err := t.replace(o, false)
	if err != nil {
		return nil, "", err
	}
	if !changed {
		return e, kube.ActionUnchanged, nil
	}
	return e, kube.ActionConfigured, nil
}

// merge3 merges a map the user applies with the live one: keys the user
// applied before and dropped now go, keys set by others stay.
func merge3(live, last, applied map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range live {
		if _, was := last[k]; was {
			if _, still := applied[k]; !still {
				continue
			}
		}
		out[k] = v
	}
	maps.Copy(out, applied)
	if len(out) == 0 {
		return nil
	}
	return out
}

// lastApplied is the configuration kubectl records: the object as the user
// wrote it, without server fields.
func lastApplied(o api.Object) string {
	c := shallowCopy(o)
	m := c.Meta()
	m.UID, m.ResourceVersion, m.CreationTimestamp, m.Generation = "", "", nil, 0
	m.ManagedFields, m.SelfLink = nil, ""
	if m.Annotations != nil {
		m.Annotations = maps.Clone(m.Annotations)
		delete(m.Annotations, LastAppliedAnnotation)
		if len(m.Annotations) == 0 {
			m.Annotations = nil
		}
	}
	b, _ := json.Marshal(c)
	if m.Namespace != "" || !bytes.Contains(b, []byte(`"namespace"`)) {
		if out, err := canonicalJSON(b, "status"); err == nil {
			return string(out) + "\n"
		}
	}
	var generic map[string]any
	json.Unmarshal(b, &generic)
	delete(generic, "status")
	if md, ok := generic["metadata"].(map[string]any); ok && m.Namespace == "" {
		delete(md, "namespace")
	}
	out, _ := json.Marshal(generic)
	return string(out) + "\n"
}

// delete stages a deletion with Kubernetes' rules: pods (when a kubelet
// runs them) and objects with finalizers are marked and go later; a
// namespace takes its content with it; dependents (ownerReferences) go with
// their owner.
func (t *txn) delete(k api.Kind, ns, name string, opts kube.DeleteOptions) error {
	k = kube.Preferred(k)
	if !k.Namespaced {
		ns = ""
	}
	key := objKey{kube.ResourceKey(k), ns, name}
	old, ok := t.get(key)
	if !ok {
		return kube.NotFound(k, name)
	}
	om := old.obj.Meta()
	switch {
	case k.GVK.Kind == "Namespace" && k.GVK.Group() == "":
		for _, sys := range systemNamespaces {
			if name == sys {
				return kube.Forbidden(k, name, "this namespace may not be deleted")
			}
		}
		return t.deleteNamespace(key, old)
	case isPod(k) && t.s.opts.GracefulPodDeletion && (opts.GracePeriodSeconds == nil || *opts.GracePeriodSeconds > 0):
		pod := old.obj.(*api.Pod)
		if pod.Spec.NodeName == t.s.opts.Node && pod.Status.Phase != "Succeeded" && pod.Status.Phase != "Failed" {
			if om.DeletionTimestamp != nil {
				return nil
			}
			next := kube.Clone(pod)
			now := t.now
			grace := int64(30)
			if pod.Spec.TerminationGracePeriodSeconds != nil {
				grace = *pod.Spec.TerminationGracePeriodSeconds
			}
			if opts.GracePeriodSeconds != nil {
				grace = *opts.GracePeriodSeconds
			}
			next.DeletionTimestamp, next.DeletionGracePeriodSeconds = &now, &grace
			t.stage(key, newEntry(k, next))
			return nil
		}
	case len(om.Finalizers) > 0:
		if om.DeletionTimestamp != nil {
			return nil
		}
		next := kube.Clone(old.obj)
		now := t.now
		next.Meta().DeletionTimestamp = &now
		t.stage(key, newEntry(k, next))
		return nil
	}
	return t.remove(key, old)
}

// remove stages the removal of an object and of its dependents.
func (t *txn) remove(key objKey, old *entry) error {
	t.stage(key, nil)
	uid := old.obj.Meta().UID
	if uid == "" {
		return nil
	}
	for _, d := range t.dependents(uid) {
		m := d.obj.Meta()
		if err := t.delete(d.kind, m.Namespace, m.Name, kube.DeleteOptions{}); err != nil && !kube.IsNotFound(err) {
			return err
		}
	}
	t.finishNamespace(key.ns)
	return nil
}

func (t *txn) deleteNamespace(key objKey, old *entry) error {
	if old.obj.Meta().DeletionTimestamp == nil {
		ns := kube.Clone(old.obj.(*api.Namespace))
		now := t.now
		ns.DeletionTimestamp = &now
		ns.Status.Phase = "Terminating"
		t.stage(key, newEntry(old.kind, ns))
	}
	// Everything in it goes; pods may take a moment.
	var content []*entry
	for _, res := range t.resources() {
		t.each(res, func(e *entry) {
			if e.kind.Namespaced && e.obj.Meta().Namespace == key.name {
				content = append(content, e)
			}
		})
	}
	sort.Slice(content, func(i, j int) bool { return content[i].obj.Meta().Name < content[j].obj.Meta().Name })
	for _, e := range content {
		if err := t.delete(e.kind, key.name, e.obj.Meta().Name, kube.DeleteOptions{}); err != nil && !kube.IsNotFound(err) {
			return err
		}
	}
	t.finishNamespace(key.name)
	return nil
}

// finishNamespace removes a terminating namespace once it is empty.
func (t *txn) finishNamespace(ns string) {
	if ns == "" {
		return
	}
	key := objKey{"/namespaces", "", ns}
	e, ok := t.get(key)
	if !ok || e.obj.Meta().DeletionTimestamp == nil {
		return
	}
	empty := true
	for _, res := range t.resources() {
		if res == "/namespaces" {
			continue
		}
		t.each(res, func(x *entry) {
			if x.kind.Namespaced && x.obj.Meta().Namespace == ns {
				empty = false
			}
		})
	}
	if empty {
		t.stage(key, nil)
	}
}

// commit validates the whole change set (admission), then stores it.
func (t *txn) commit() ([]*entry, error) {
	if err := t.admit(); err != nil {
		return nil, err
	}
	s := t.s
	if len(t.order) == 0 {
		return nil, nil
	}
	rec := walRecord{}
	var evs []storeEvent
	var out []*entry
	rv := s.rv
	for _, k := range t.order {
		e := t.staged[k]
		if e == nil {
			old, ok := s.lookup(k)
			if !ok {
				continue
			}
			rv++
			gone := shallowCopy(old.obj)
			gone.Meta().ResourceVersion = strconv.FormatUint(rv, 10)
			raw, _ := json.Marshal(gone)
			rec.Del = append(rec.Del, walKey{k.res, k.ns, k.name})
			evs = append(evs, storeEvent{typ: kube.Deleted, e: &entry{kind: old.kind, obj: gone, raw: raw, rv: rv}, rv: rv})
			continue
		}
		rv++
		e.rv = rv
		e.obj.Meta().ResourceVersion = strconv.FormatUint(rv, 10)
		raw, err := json.Marshal(e.obj)
		if err != nil {
			return nil, kube.InternalError(err)
		}
		e.raw = raw
		rec.Put = append(rec.Put, raw)
		typ := kube.Modified
		if _, ok := s.lookup(k); !ok {
			typ = kube.Added
		}
		evs = append(evs, storeEvent{typ: typ, e: e, rv: rv})
		out = append(out, e)
	}
	if len(evs) == 0 {
		return out, nil
	}
	rec.RV = rv
	if s.disk != nil {
		if err := s.disk.append(rec); err != nil {
			return nil, kube.InternalError(fmt.Errorf("%w; nothing was stored", err))
		}
	}
	s.rv = rv
	for _, k := range t.order {
		if e := t.staged[k]; e == nil {
			s.remove(k)
		} else {
			s.put(e)
		}
	}
	s.publish(evs)
	if s.disk != nil && s.disk.compactDue() {
		if err := s.disk.compact(s.snapshotLocked()); err != nil {
			s.log.Warn("compacting the cluster state failed; the log keeps growing", "err", err)
		}
	}
	return out, nil
}

func (s *Store) snapshotLocked() *snapshot {
	snap := &snapshot{ResourceVersion: s.rv}
	var res []string
	for r := range s.objs {
		res = append(res, r)
	}
	sort.Strings(res)
	for _, r := range res {
		keys := make([]objKey, 0, len(s.objs[r]))
		for k := range s.objs[r] {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].ns != keys[j].ns {
				return keys[i].ns < keys[j].ns
			}
			return keys[i].name < keys[j].name
		})
		for _, k := range keys {
			snap.Objects = append(snap.Objects, s.objs[r][k].raw)
		}
	}
	return snap
}

func (s *Store) write(fn func(t *txn) error) ([]*entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, kube.NewStatusError(kube.ReasonServiceUnavailable, http.StatusServiceUnavailable, "the cluster is shutting down")
	}
	t := s.begin()
	if err := fn(t); err != nil {
		return nil, err
	}
	return t.commit()
}

// decoded returns a copy of an entry's object for the caller.
func decoded(e *entry) (api.Object, error) {
	if e == nil {
		return nil, nil
	}
	return kube.DeepCopy(e.obj), nil
}

// Create implements kube.Interface.
func (s *Store) Create(ctx context.Context, obj api.Object) (api.Object, error) {
	var e *entry
	_, err := s.write(func(t *txn) error {
		var err error
		e, err = t.create(kube.DeepCopy(obj))
		return err
	})
	if err != nil {
		return nil, err
	}
	return decoded(e)
}

// Update implements kube.Interface.
func (s *Store) Update(ctx context.Context, obj api.Object) (api.Object, error) {
	return s.replaceObj(obj, false)
}

// UpdateStatus implements kube.Interface.
func (s *Store) UpdateStatus(ctx context.Context, obj api.Object) (api.Object, error) {
	return s.replaceObj(obj, true)
}

func (s *Store) replaceObj(obj api.Object, status bool) (api.Object, error) {
	var e *entry
	_, err := s.write(func(t *txn) error {
		var err error
		e, _, err = t.replace(kube.DeepCopy(obj), status)
		return err
	})
	if err != nil {
		return nil, err
	}
	if e.raw == nil {
		return e.obj, nil
	}
	return decoded(e)
}

var _ kube.StatusUpdater = (*Store)(nil)

// UpdateWithStatus implements kube.StatusUpdater: Update, then
// UpdateStatus with the object's status, in one transaction.
func (s *Store) UpdateWithStatus(ctx context.Context, obj api.Object) (api.Object, error) {
	var e *entry
	_, err := s.write(func(t *txn) error {
		var err error
		e, err = t.updateWithStatus(kube.DeepCopy(obj))
		return err
	})
	if err != nil {
		return nil, err
	}
	if e == nil {
		k, _ := kube.KindOf(api.Normalize(obj))
		return nil, kube.NotFound(k, obj.Meta().Name)
	}
	return decoded(e)
}

// UpdateWithStatusAll implements kube.BatchStatusUpdater: the objects in
// one change (one resource version each, one journal record, watchers
// woken once), or, when one of them fails, each on its own so the others
// still land.
func (s *Store) UpdateWithStatusAll(ctx context.Context, objs []api.Object) []error {
	errs := make([]error, len(objs))
	// Staging changes an object's metadata in place (its resource version
	// is cleared once checked); a second try needs the version it came with.
	rvs := make([]string, len(objs))
	for i, o := range objs {
		rvs[i] = o.Meta().ResourceVersion
	}
	_, err := s.write(func(t *txn) error {
		for _, o := range objs {
			e, err := t.updateWithStatus(o)
			if err != nil {
				return err
			}
			if e == nil {
				k, _ := kube.KindOf(api.Normalize(o))
				return kube.NotFound(k, o.Meta().Name)
			}
		}
		return nil
	})
	if err == nil {
		return errs
	}
	for i, o := range objs {
		o.Meta().ResourceVersion = rvs[i]
		_, errs[i] = s.UpdateWithStatus(ctx, o)
	}
	return errs
}

// updateWithStatus stages o's metadata and spec, then its status; o
// becomes the store's. A nil entry: the object went (deleted, its last
// finalizer removed).
func (t *txn) updateWithStatus(o api.Object) (*entry, error) {
	k, _ := kube.KindOf(api.Normalize(o))
	if !hasStatus(k) {
		return nil, kube.NewStatusError(kube.ReasonNotFound, http.StatusNotFound, "%s have no status subresource", kube.GroupResource(k))
	}
	e, _, err := t.replaceParts(o, replaceBoth)
	if err != nil {
		return nil, err
	}
	if _, ok := t.get(keyOf(k, o.Meta())); !ok {
		return nil, nil
	}
	return e, nil
}

// Delete implements kube.Interface.
func (s *Store) Delete(ctx context.Context, k api.Kind, namespace, name string, opts kube.DeleteOptions) error {
	_, err := s.write(func(t *txn) error { return t.delete(k, namespace, name, opts) })
	return err
}

// Apply implements kube.Interface.
func (s *Store) Apply(ctx context.Context, objs []api.Object, opts kube.ApplyOptions) ([]kube.ApplyResult, error) {
	entries, results, err := s.applyEntries(objs, opts, false)
	if err != nil {
		return nil, err
	}
	for i, e := range entries {
		if opts.Summary {
			results[i].Object = summaryOf(e.obj)
		} else {
			results[i].Object = kube.DeepCopy(e.obj)
		}
	}
	return results, nil
}

// summaryOf is an object of o's kind with o's metadata only (labels and
// annotations left out): an apply's result when the caller asked for a
// summary.
func summaryOf(o api.Object) api.Object {
	n := reflect.New(reflect.TypeOf(o).Elem()).Interface().(api.Object)
	n.SetGVK(o.GVK())
	m := *o.Meta()
	m.Labels, m.Annotations, m.ManagedFields, m.OwnerReferences, m.Finalizers = nil, nil, nil, nil, nil
	*n.Meta() = m
	return n
}

// applyEntries is Apply returning the entries (their JSON is set, also
// for a dry run) and the actions. owned: the objects are the store's to
// keep and change (the API server decoded them for this call).
func (s *Store) applyEntries(objs []api.Object, opts kube.ApplyOptions, owned bool) ([]*entry, []kube.ApplyResult, error) {
	mode := opts.Mode
	if mode == "" {
		mode = kube.ModeApply
	}
	if mode != kube.ModeApply && mode != kube.ModeCreate {
		return nil, nil, kube.BadRequest("unknown apply mode %q (use %s or %s)", mode, kube.ModeApply, kube.ModeCreate)
	}
	if !owned {
		// The caller's objects stay as they are (copied before the store
		// is locked).
		cp := make([]api.Object, len(objs))
		for i, o := range objs {
			cp[i] = kube.DeepCopy(o)
		}
		objs = cp
	}
	results := make([]kube.ApplyResult, len(objs))
	entries := make([]*entry, len(objs))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, kube.NewStatusError(kube.ReasonServiceUnavailable, http.StatusServiceUnavailable, "the cluster is shutting down")
	}
	t := s.begin()
	t.sources = map[string]api.Source{}
	var failures []error
	for i, o := range objs {
		if i < len(opts.Sources) {
			if k, ok := kube.KindOf(api.Normalize(o)); ok && k.Namespaced && o.Meta().Namespace == "" {
				o.Meta().Namespace = "default"
			}
			t.sources[api.Ref(api.Normalize(o))] = opts.Sources[i]
		}
		var err error
		if mode == kube.ModeCreate {
			entries[i], err = t.create(o)
			results[i].Action = kube.ActionCreated
		} else {
			entries[i], results[i].Action, err = t.apply(o)
		}
		if err != nil {
			failures = append(failures, withSource(err, opts.Sources, i))
		}
	}
	if len(failures) > 0 {
		return nil, nil, joinFailures(failures)
	}
	if opts.DryRun {
		if err := t.admit(); err != nil {
			return nil, nil, err
		}
	} else if _, err := t.commit(); err != nil {
		return nil, nil, err
	}
	for i, e := range entries {
		if e.raw == nil {
			raw, _ := json.Marshal(e.obj)
			entries[i] = &entry{kind: e.kind, obj: e.obj, raw: raw}
		}
	}
	return entries, results, nil
}

// withSource prefixes an object's failure with where it was written.
func withSource(err error, sources []api.Source, i int) error {
	if i >= len(sources) {
		return err
	}
	if se, ok := err.(*kube.StatusError); ok {
		c := *se
		c.Status.Details = cloneDetails(se.Status.Details)
		if c.Status.Details == nil {
			c.Status.Details = &kube.StatusDetails{}
		}
		c.Status.Details.Causes = append(c.Status.Details.Causes, kube.StatusCause{Type: "Source", Field: sources[i].String()})
		return &c
	}
	return fmt.Errorf("%s: %w", sources[i], err)
}

func cloneDetails(d *kube.StatusDetails) *kube.StatusDetails {
	if d == nil {
		return nil
	}
	c := *d
	c.Causes = append([]kube.StatusCause(nil), d.Causes...)
	return &c
}

// joinFailures turns the failures of an apply into one Status: the first
// failure's reason and code, every failure's message as a cause.
func joinFailures(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	first := kube.InternalError(errs[0])
	if se, ok := errs[0].(*kube.StatusError); ok {
		first = se
	}
	out := kube.NewStatusError(first.Status.Reason, int(first.Status.Code), "%s", "")
	var msgs []string
	out.Status.Details = &kube.StatusDetails{}
	for _, e := range errs {
		msgs = append(msgs, e.Error())
		c := kube.StatusCause{Type: "Object", Message: e.Error()}
		if se, ok := e.(*kube.StatusError); ok {
			c.Type = se.Status.Reason
			if d := se.Status.Details; d != nil {
				for _, x := range d.Causes {
					if x.Type == "Source" {
						c.Field = x.Field
					}
				}
			}
		}
		out.Status.Details.Causes = append(out.Status.Details.Causes, c)
	}
	out.Status.Message = strings.Join(msgs, "\n")
	return out
}
