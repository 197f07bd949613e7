package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `tkesj init` gives an operator a master key only they can read, kept apart
// from the data, a configuration file, and a policy template in English and
// Simplified Chinese whose fields must be filled before it can be published.
func TestInit(t *testing.T) {
	root := t.TempDir()
	dir, data := filepath.Join(root, "etc"), filepath.Join(root, "tkesj-data")
	env := func(string) string { return "" }
	var out bytes.Buffer
	if err := run(context.Background(), []string{"init", "--dir", dir, "--data", data}, env, &out, &out); err != nil {
		t.Fatalf("tkesj init = %v\n%s", err, out.String())
	}
	mode := func(p string) os.FileMode {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return st.Mode().Perm()
	}
	if m := mode(filepath.Join(root, "tkesj-data-keys", "master.key")); m != 0o600 {
		t.Errorf("master.key mode = %v, want 0600", m)
	}
	if _, err := os.Stat(filepath.Join(data, "master.key")); err == nil {
		t.Error("master.key was written into the data directory")
	}
	if m := mode(filepath.Join(dir, "tkesj.env")); m != 0o600 {
		t.Errorf("tkesj.env mode = %v, want 0600", m)
	}
	conf, _ := os.ReadFile(filepath.Join(dir, "tkesj.env"))
	for _, want := range []string{"TKESJ_DATA=" + data + "\n", "TKESJ_KEYS=" + filepath.Join(root, "tkesj-data-keys") + "\n"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("tkesj.env lacks %q:\n%s", want, conf)
		}
	}
	for _, lang := range []string{"en", "zh"} {
		text, err := os.ReadFile(filepath.Join(dir, "policy."+lang+".md"))
		if err != nil {
			t.Fatal(err)
		}
		for _, field := range []string{"{{operator_name}}", "{{privacy_contact_email}}", "{{data_regions}}"} {
			if !bytes.Contains(text, []byte(field)) {
				t.Errorf("policy.%s.md has no %s field", lang, field)
			}
		}
		if n := bytes.Count(text, []byte("\n## ")); n < 8 {
			t.Errorf("policy.%s.md has %d sections, want at least 8", lang, n)
		}
	}

	t.Run("a second run overwrites nothing", func(t *testing.T) {
		key, _ := os.ReadFile(filepath.Join(root, "tkesj-data-keys", "master.key"))
		os.WriteFile(filepath.Join(dir, "tkesj.env"), []byte("# mine\n"), 0o600)
		out.Reset()
		if err := run(context.Background(), []string{"init", "--dir", dir, "--data", data}, env, &out, &out); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "wrote") {
			t.Errorf("second init wrote files:\n%s", out.String())
		}
		again, _ := os.ReadFile(filepath.Join(root, "tkesj-data-keys", "master.key"))
		conf, _ := os.ReadFile(filepath.Join(dir, "tkesj.env"))
		if !bytes.Equal(key, again) || string(conf) != "# mine\n" {
			t.Error("a second init replaced the master key or the configuration")
		}
	})

	t.Run("an unfilled template cannot be published", func(t *testing.T) {
		out.Reset()
		err := run(context.Background(), []string{"admin", "policy", "publish", "--version", "2", "--file", filepath.Join(dir, "policy.en.md"), "--data", data}, env, &out, &out)
		if err == nil || !strings.Contains(err.Error(), "{{operator_name}}") {
			t.Errorf("publishing the unfilled template = %v, want a refusal naming the fields", err)
		}
	})
}
