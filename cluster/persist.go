package cluster

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// The store persists as a snapshot plus a write-ahead log in its directory:
//
//	snapshot.json   {"resourceVersion": N, "objects": [...]}, replaced atomically
//	wal.jsonl       one line per committed change set: {"rv": N, "put": [...], "del": [...]}
//	lock            flock'ed by the one process that owns the store
//
// A change set is one write(2) of one line, so an apply is all-or-nothing on
// disk too: a torn last line (a machine crash mid-write) is dropped on load.
// The log is folded into a new snapshot once it has compactEvery change
// sets and is at least as large as the snapshot (so that a large cluster
// is not rewritten every compactEvery small changes: compaction costs a
// constant share of what is written).
const (
	snapshotFile = "snapshot.json"
	walFile      = "wal.jsonl"
	lockFile     = "lock"
	compactEvery = 2000
)

type snapshot struct {
	ResourceVersion uint64            `json:"resourceVersion,string"`
	Objects         []json.RawMessage `json:"objects"`
}

type walRecord struct {
	RV  uint64            `json:"rv"`
	Put []json.RawMessage `json:"put,omitempty"`
	Del []walKey          `json:"del,omitempty"`
}

type walKey struct {
	Resource  string `json:"r"`
	Namespace string `json:"ns,omitempty"`
	Name      string `json:"n"`
}

type disk struct {
	dir   string
	lock  *os.File
	wal   *os.File
	lines int
	// walBytes and snapBytes are the sizes of the log and the snapshot.
	walBytes, snapBytes int64
}

// compactDue says whether the log should be folded into the snapshot.
func (d *disk) compactDue() bool {
	return d.lines >= compactEvery && d.walBytes >= d.snapBytes
}

// openDisk locks the directory and returns what it holds: the snapshot and
// the log records after it.
func openDisk(dir string) (*disk, *snapshot, []walRecord, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("create cluster state directory %s: %w", dir, err)
	}
	lf, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open %s: %w", filepath.Join(dir, lockFile), err)
	}
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		b, _ := os.ReadFile(filepath.Join(dir, lockFile))
		lf.Close()
		return nil, nil, nil, fmt.Errorf("cluster state in %s is in use by another process (pid %s); stop that cluster agent first", dir, bytes.TrimSpace(b))
	}
	lf.Truncate(0)
	lf.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	d := &disk{dir: dir, lock: lf}
	snap := &snapshot{}
	if b, err := os.ReadFile(filepath.Join(dir, snapshotFile)); err == nil {
		d.snapBytes = int64(len(b))
		if err := json.Unmarshal(b, snap); err != nil {
			d.close()
			return nil, nil, nil, fmt.Errorf("cluster state %s is damaged: %v; move it away to start with an empty cluster", filepath.Join(dir, snapshotFile), err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		d.close()
		return nil, nil, nil, err
	}
	wf, err := os.OpenFile(filepath.Join(dir, walFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		d.close()
		return nil, nil, nil, err
	}
	d.wal = wf
	var recs []walRecord
	var good int64
	r := bufio.NewReader(wf)
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			// A line without its newline is a torn write: drop it.
			break
		}
		if err != nil {
			d.close()
			return nil, nil, nil, err
		}
		var rec walRecord
		if json.Unmarshal(line, &rec) != nil {
			break
		}
		good += int64(len(line))
		d.lines++
		d.walBytes += int64(len(line))
		if rec.RV > snap.ResourceVersion {
			recs = append(recs, rec)
		}
	}
	if err := wf.Truncate(good); err != nil {
		d.close()
		return nil, nil, nil, err
	}
	if _, err := wf.Seek(good, io.SeekStart); err != nil {
		d.close()
		return nil, nil, nil, err
	}
	return d, snap, recs, nil
}

// append writes one change set. The objects are already JSON (as
// json.Marshal writes it): the line is put together without encoding them
// again.
func (d *disk) append(rec walRecord) error {
	var buf bytes.Buffer
	size := 64
	for _, raw := range rec.Put {
		size += len(raw) + 1
	}
	buf.Grow(size + 64*len(rec.Del))
	fmt.Fprintf(&buf, `{"rv":%d`, rec.RV)
	if len(rec.Put) > 0 {
		buf.WriteString(`,"put":[`)
		for i, raw := range rec.Put {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(raw)
		}
		buf.WriteByte(']')
	}
	if len(rec.Del) > 0 {
		del, err := json.Marshal(rec.Del)
		if err != nil {
			return err
		}
		buf.WriteString(`,"del":`)
		buf.Write(del)
	}
	buf.WriteString("}\n")
	b := buf.Bytes()
	if _, err := d.wal.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(d.dir, walFile), err)
	}
	d.lines++
	d.walBytes += int64(len(b))
	return nil
}

// compact replaces the snapshot and empties the log. The objects are
// stored JSON already: the snapshot is put together without encoding them
// again.
func (d *disk) compact(snap *snapshot) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `{"resourceVersion":"%d","objects":[`, snap.ResourceVersion)
	for i, raw := range snap.Objects {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(raw)
	}
	buf.WriteString("]}")
	b := buf.Bytes()
	tmp := filepath.Join(d.dir, snapshotFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(d.dir, snapshotFile)); err != nil {
		return err
	}
	if dir, err := os.Open(d.dir); err == nil {
		dir.Sync()
		dir.Close()
	}
	if err := d.wal.Truncate(0); err != nil {
		return err
	}
	if _, err := d.wal.Seek(0, io.SeekStart); err != nil {
		return err
	}
	d.lines, d.walBytes, d.snapBytes = 0, 0, int64(len(b))
	return nil
}

func (d *disk) close() error {
	var err error
	if d.wal != nil {
		d.wal.Sync()
		err = d.wal.Close()
	}
	if d.lock != nil {
		d.lock.Close()
	}
	return err
}
