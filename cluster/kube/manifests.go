package kube

import (
	"bytes"
	"errors"

	"github.com/onp-lab/onp/metallb/api"
)

// DecodeManifests decodes a YAML (or JSON) stream as users pipe it into
// `onp apply -f -`, with api.Decode's strictness and positions, and one
// allowance: files concatenated without a separator (`cat a.yaml b.yaml`,
// where a.yaml's last document runs straight into b.yaml's first) are
// split where a document starts over, that is where a top-level apiVersion
// or kind key appears a second time in one document. Such input is
// otherwise invalid (duplicate keys), so no valid stream changes meaning.
// Positions in objects and errors stay those of the original stream.
func DecodeManifests(file string, data []byte) ([]api.Document, error) {
	chunks := splitConcatenated(data)
	if len(chunks) == 1 {
		return api.Decode(file, data)
	}
	var docs []api.Document
	var errs api.ErrorList
	docBase := 0
	for _, c := range chunks {
		ds, err := api.Decode(file, c.data)
		maxDoc := 0
		for _, d := range ds {
			d.Source.Line += c.line
			d.Source.Doc += docBase
			maxDoc = max(maxDoc, d.Source.Doc-docBase)
			docs = append(docs, d)
		}
		var el api.ErrorList
		if errors.As(err, &el) {
			for _, e := range el {
				ce := *e
				if ce.Line > 0 {
					ce.Line += c.line
				}
				maxDoc = max(maxDoc, ce.Doc)
				ce.Doc += docBase
				errs = append(errs, &ce)
			}
		} else if err != nil {
			errs = append(errs, &api.Error{Source: api.Source{File: file, Line: c.line + 1}, Msg: err.Error()})
		}
		docBase += maxDoc
	}
	if len(errs) > 0 {
		return docs, errs
	}
	return docs, nil
}

type chunk struct {
	// line is how many lines of the stream come before the chunk.
	line int
	data []byte
}

// splitConcatenated cuts a stream before each top-level apiVersion or kind
// key that repeats within a document.
func splitConcatenated(data []byte) []chunk {
	var out []chunk
	start, startLine := 0, 0
	seen := map[string]bool{}
	line := 0
	for pos := 0; pos < len(data); line++ {
		end := bytes.IndexByte(data[pos:], '\n')
		next := len(data)
		if end >= 0 {
			next = pos + end + 1
		}
		l := data[pos:next]
		switch {
		case bytes.HasPrefix(l, []byte("---")) || bytes.HasPrefix(l, []byte("...")):
			clear(seen)
		default:
			for _, key := range []string{"apiVersion", "kind"} {
				if !bytes.HasPrefix(l, []byte(key)) {
					continue
				}
				rest := bytes.TrimLeft(l[len(key):], " \t")
				if len(rest) == 0 || rest[0] != ':' {
					continue
				}
				if seen[key] {
					out = append(out, chunk{line: startLine, data: data[start:pos]})
					start, startLine = pos, line
					clear(seen)
				}
				seen[key] = true
			}
		}
		pos = next
	}
	return append(out, chunk{line: startLine, data: data[start:]})
}
