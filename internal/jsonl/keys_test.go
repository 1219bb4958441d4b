package jsonl

import (
	"reflect"
	"testing"
)

type benchItem struct {
	Backend string `json:"backend"`
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Slug    string `json:"slug"`
	Path    string `json:"path"`
}

func BenchmarkCheckKeys(b *testing.B) {
	line := []byte(`{"backend":"docker","kind":"state-dir","name":"gone-00001","slug":"gone-00001","path":"/tmp/x/state/gone-00001"}`)
	t := reflect.TypeFor[benchItem]()
	for b.Loop() {
		if err := CheckKeys(line, t); err != nil {
			b.Fatal(err)
		}
	}
}

func TestFold(t *testing.T) {
	for _, c := range [][2]string{{"name", "NAME"}, {"ſtate", "state"}, {"\u212aind", "kind"}, {"Ünï", "üNÏ"}} {
		if fold(c[0]) != fold(c[1]) {
			t.Errorf("fold(%q) = %q, fold(%q) = %q: want equal", c[0], fold(c[0]), c[1], fold(c[1]))
		}
	}
	if fold("name") == fold("nane") {
		t.Error("different keys fold alike")
	}
}
