package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// Journal is the subscriber's side effect and its memory at once: an
// append-only file with one JSON line per event handled. Opening it reads
// back the (source, id) of every line, so an event delivered again, even
// after a restart, is recognised and not written twice. One line is one
// write, so the record and the mark that it was done cannot part.
//
// A real integration records (source, id) in the same database
// transaction as its own side effect instead (a table with that primary
// key), which also works with several replicas; this file wants one.
type Journal struct {
	mu   sync.Mutex
	f    *os.File
	seen map[[2]string]bool
}

// OpenJournal opens (or creates) the journal at path and loads what it
// has recorded.
func OpenJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	j := &Journal{f: f, seen: map[[2]string]bool{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		j.seen[[2]string{l.Source, l.ID}] = true
	}
	if err := sc.Err(); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// Record appends l unless an event with its source and id was recorded
// before; first says whether it was appended now.
func (j *Journal) Record(l Line) (first bool, err error) {
	key := [2]string{l.Source, l.ID}
	b, err := json.Marshal(l)
	if err != nil {
		return false, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.seen[key] {
		return false, nil
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return false, err
	}
	if err := j.f.Sync(); err != nil {
		return false, err
	}
	j.seen[key] = true
	return true, nil
}

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }
