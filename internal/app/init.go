package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/keyring"
)

// Init prepares a new deployment for an operator (`tkesj init`): the keys
// directory with a new master key (0600) apart from the data directory, a
// configuration file dir/tkesj.env of TKESJ_* variables (0600, for systemd's
// EnvironmentFile or `set -a; . tkesj.env`), and the privacy policy
// templates dir/policy.en.md and dir/policy.zh.md for the operator to fill.
// It overwrites nothing: a file that exists is left as it is and reported.
// It returns the paths it wrote.
func Init(cfg Config, dir string) ([]string, error) {
	data, err := filepath.Abs(cfg.Data)
	if err != nil {
		return nil, err
	}
	cfg.Data = data
	if cfg.Keys, err = filepath.Abs(cfg.KeysDir()); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	cfg.MasterKey = "" // init writes the file; an env key needs none
	if err := prepareKeysDir(cfg, nil); err != nil {
		return nil, err
	}
	var wrote []string
	master := filepath.Join(cfg.Keys, "master.key")
	if _, err := os.Stat(master); errors.Is(err, fs.ErrNotExist) {
		wrote = append(wrote, master)
	}
	if _, err := keyring.LoadOrCreateMasterKey(cfg.Keys, ""); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	files := []struct {
		name string
		mode os.FileMode
		text string
	}{
		{"tkesj.env", 0o600, envFile(cfg)},
		{"policy.en.md", 0o644, tkesj.PolicyTemplateEN},
		{"policy.zh.md", 0o644, tkesj.PolicyTemplateZH},
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
		if errors.Is(err, fs.ErrExist) {
			continue
		} else if err != nil {
			return wrote, err
		}
		if _, err := out.WriteString(f.text); err != nil {
			out.Close()
			return wrote, err
		}
		if err := out.Close(); err != nil {
			return wrote, err
		}
		wrote = append(wrote, path)
	}
	return wrote, nil
}

func envFile(cfg Config) string {
	var b strings.Builder
	b.WriteString("# tkesj configuration: every flag of `tkesj serve` as TKESJ_* (README, Configuration).\n")
	b.WriteString("# systemd: EnvironmentFile=/etc/tkesj/tkesj.env; a shell: set -a; . ./tkesj.env; set +a\n")
	fmt.Fprintf(&b, "TKESJ_ADDR=%s\n", orDefault(cfg.Addr, "127.0.0.1:8080"))
	fmt.Fprintf(&b, "TKESJ_DATA=%s\n", cfg.Data)
	fmt.Fprintf(&b, "# the key store and master.key: never in the same backup as TKESJ_DATA\n")
	fmt.Fprintf(&b, "TKESJ_KEYS=%s\n", cfg.Keys)
	fmt.Fprintf(&b, "TKESJ_REGION=%s\n", orDefault(cfg.Region, "CN"))
	b.WriteString(`# Production: an SMS gateway for one-time codes (without it they are printed, for development)
#TKESJ_SMS_WEBHOOK=https://sms.internal/send
# Several nodes (README, Cluster):
#TKESJ_DB=postgres://tkesj@db.internal/tkesj
#TKESJ_NATS=nats://nats.internal:4222
#TKESJ_MEDIA=s3://tkesj-media?endpoint=s3.internal:9000
#TKESJ_S3_ACCESS_KEY=
#TKESJ_S3_SECRET_KEY=
#TKESJ_TRUSTED_PROXIES=10.0.0.2/32
#TKESJ_DRAIN_DELAY=3s
#TKESJ_METRICS_ADDR=127.0.0.1:9090
`)
	return b.String()
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

var unfilledField = regexp.MustCompile(`\{\{\s*[a-z_]+\s*\}\}`)

// UnfilledFields lists the template fields ({{operator_name}}, ...) a policy
// text still holds; a policy is published only without any.
func UnfilledFields(text string) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range unfilledField.FindAllString(text, -1) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}
