package kube

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onp-lab/onp/metallb/api"
)

func TestDecodeManifestsConcatenatedSeed(t *testing.T) {
	var data []byte
	for _, f := range []string{"01-metallb-operator.yaml", "02-metallb-bgp.yaml", "03-echoserver.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "topology", "builtin", "seed", f))
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, b...) // as `cat 0[123]*.yaml` does: no separator
	}
	docs, err := DecodeManifests("STDIN", data)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range docs {
		got = append(got, d.Object.GVK().Kind+"@"+d.Source.String())
	}
	want := "Namespace@STDIN:1:1 OperatorGroup@STDIN:6:1 Subscription@STDIN:12:1 MetalLB@STDIN:23:1 IPAddressPool@STDIN:28:1 BGPPeer@STDIN:37:1 BGPAdvertisement@STDIN:47:1 Namespace@STDIN:62:1 Pod@STDIN:67:1 Service@STDIN:91:1"
	if strings.Join(got, " ") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
	lines := strings.Split(string(data), "\n")
	for _, d := range docs {
		first := lines[d.Source.Line-1]
		if !strings.HasPrefix(first, "apiVersion:") {
			t.Errorf("%s: line %d is %q, not the object's first key", d.Object.GVK().Kind, d.Source.Line, first)
		}
	}
}

func TestDecodeManifestsKeepsErrorPositions(t *testing.T) {
	data := "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\nbogus: 1\n"
	_, err := DecodeManifests("f.yaml", data2(data))
	var el api.ErrorList
	if !errors.As(err, &el) || len(el) != 1 || el[0].Line != 7 || !strings.Contains(el[0].Error(), "f.yaml:7:1") {
		t.Fatalf("error %v, want one at f.yaml:7:1", err)
	}
	// A valid stream is decoded exactly as api.Decode does.
	ok := "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkind: Namespace\napiVersion: v1\nmetadata: {name: b}\n"
	docs, err := DecodeManifests("f.yaml", data2(ok))
	if err != nil || len(docs) != 2 || docs[1].Source.Line != 5 {
		t.Fatalf("%v %+v", err, docs)
	}
}

func data2(s string) []byte { return []byte(s) }
