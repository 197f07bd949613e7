package store

import (
	"context"

	"github.com/tkesj/tkesj"
)

// AppendConsent adds one entry to a user's consent ledger. The ledger has no
// update or delete query: entries leave only with the account (R-CON-1).
func (q *Queries) AppendConsent(ctx context.Context, userID string, c tkesj.Consent) error {
	_, err := q.exec(ctx, `INSERT INTO consents (user_id, kind, subject, granted, purpose, policy_version, method, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		userID, c.Kind, c.Subject, c.Granted, c.Purpose, c.PolicyVersion, c.Method, micros(c.At))
	return err
}

// Consents returns a user's whole ledger, oldest first.
func (q *Queries) Consents(ctx context.Context, userID string) ([]tkesj.Consent, error) {
	rows, err := q.query(ctx, `SELECT kind, subject, granted, purpose, policy_version, method, at FROM consents WHERE user_id = ? ORDER BY seq`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []tkesj.Consent{}
	for rows.Next() {
		var c tkesj.Consent
		var at int64
		if err := rows.Scan(&c.Kind, &c.Subject, &c.Granted, &c.Purpose, &c.PolicyVersion, &c.Method, &at); err != nil {
			return nil, err
		}
		c.At = fromMicros(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// LatestConsent returns the newest entry of kind and subject for a user, or
// not_found when there is none (which means: never granted).
func (q *Queries) LatestConsent(ctx context.Context, userID, kind, subject string) (tkesj.Consent, error) {
	var c tkesj.Consent
	var at int64
	err := q.row(ctx, `SELECT kind, subject, granted, purpose, policy_version, method, at FROM consents
		WHERE user_id = ? AND kind = ? AND subject = ? ORDER BY seq DESC LIMIT 1`, userID, kind, subject).
		Scan(&c.Kind, &c.Subject, &c.Granted, &c.Purpose, &c.PolicyVersion, &c.Method, &at)
	c.At = fromMicros(at)
	return c, notFound(err, "consent")
}

// PublishPolicy stores a new policy version (conflict when it exists).
func (q *Queries) PublishPolicy(ctx context.Context, p tkesj.Policy) error {
	_, err := q.exec(ctx, `INSERT INTO policies (version, major, text, published_at) VALUES (?, ?, ?, ?)`,
		p.Version, p.Major, p.Text, micros(p.PublishedAt))
	if err != nil && q.d.IsUnique(err) {
		return tkesj.Errorf(tkesj.EConflict, "policy_version_exists", "policy version %q exists already", p.Version)
	}
	return err
}

// CurrentPolicy returns the newest published policy, or not_found.
func (q *Queries) CurrentPolicy(ctx context.Context) (tkesj.Policy, error) {
	var p tkesj.Policy
	var at int64
	err := q.row(ctx, `SELECT version, major, text, published_at FROM policies ORDER BY published_at DESC, version DESC LIMIT 1`).
		Scan(&p.Version, &p.Major, &p.Text, &at)
	p.PublishedAt = fromMicros(at)
	return p, notFound(err, "policy")
}

// LatestMajorPolicy returns the newest policy marked major, or not_found.
func (q *Queries) LatestMajorPolicy(ctx context.Context) (tkesj.Policy, error) {
	var p tkesj.Policy
	var at int64
	err := q.row(ctx, `SELECT version, major, text, published_at FROM policies WHERE major = ? ORDER BY published_at DESC LIMIT 1`, true).
		Scan(&p.Version, &p.Major, &p.Text, &at)
	p.PublishedAt = fromMicros(at)
	return p, notFound(err, "policy")
}

// FindPolicy returns one version, or not_found.
func (q *Queries) FindPolicy(ctx context.Context, version string) (tkesj.Policy, error) {
	var p tkesj.Policy
	var at int64
	err := q.row(ctx, `SELECT version, major, text, published_at FROM policies WHERE version = ?`, version).Scan(&p.Version, &p.Major, &p.Text, &at)
	p.PublishedAt = fromMicros(at)
	return p, notFound(err, "policy")
}
