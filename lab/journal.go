package lab

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// JournalFile is the name of the state journal inside a lab directory.
const JournalFile = "journal.jsonl"

// Entry is one line of the journal: something onp is about to create (or
// has started), written before it exists so that `down` can find it even if
// onp dies half-way.
type Entry struct {
	Time time.Time `json:"time"`
	// Kind is what is created: lab, netns, bridge, veth, hostlink, process, file.
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Netns is the namespace the object lives in ("" = root namespace).
	Netns string `json:"netns,omitempty"`
	Node  string `json:"node,omitempty"`
	Pid   int    `json:"pid,omitempty"`
	// Detail is free text: the topology source for "lab", the command of a process.
	Detail string `json:"detail,omitempty"`
}

// Journal appends entries to a lab's journal file, one JSON object a line.
// Appends are single write(2) calls on an O_APPEND file, so a crash leaves at
// most a torn last line, which reading skips.
type Journal struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

// OpenJournal opens (creating) the journal in dir.
func OpenJournal(dir string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create lab directory: %w", err)
	}
	path := filepath.Join(dir, JournalFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	return &Journal{path: path, f: f}, nil
}

// Record writes e before the caller creates what it describes.
func (j *Journal) Record(e Entry) error {
	if j == nil {
		return nil
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write journal %s: %w", j.path, err)
	}
	return nil
}

// Close closes the journal file.
func (j *Journal) Close() error {
	if j == nil || j.f == nil {
		return nil
	}
	return j.f.Close()
}

// ReadJournal returns the entries of the journal in dir; a missing journal
// gives no entries and no error.
func ReadJournal(dir string) ([]Entry, error) {
	f, err := os.Open(filepath.Join(dir, JournalFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e Entry
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	return out, sc.Err()
}
