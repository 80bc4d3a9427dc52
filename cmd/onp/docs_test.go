package main

import (
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// docs/cli.md must describe every command and every flag that onp has.
func TestDocsMatchCommands(t *testing.T) {
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	a := &app{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				if sub.Name() == "completion" && !strings.Contains(string(doc), "onp completion") {
					t.Error("docs/cli.md does not mention onp completion")
				}
				continue
			}
			path := sub.CommandPath()
			if !strings.Contains(string(doc), path) {
				t.Errorf("docs/cli.md does not describe %q", path)
			}
			sub.LocalFlags().VisitAll(func(f *pflag.Flag) {
				if f.Name == "help" || f.Hidden {
					return
				}
				if !strings.Contains(string(doc), "--"+f.Name) {
					t.Errorf("docs/cli.md does not mention flag --%s of %s", f.Name, path)
				}
			})
			walk(sub)
		}
	}
	root := a.rootCommand()
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) {
		if !strings.Contains(string(doc), "--"+f.Name) {
			t.Errorf("docs/cli.md does not mention global flag --%s", f.Name)
		}
	})
	walk(root)
}
