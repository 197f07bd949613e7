package store

import (
	"context"
	"time"
)

// FavoriteRecord is one saved item, sealed with its owner's key. MediaIDs
// are the owner's own copies of its media.
type FavoriteRecord struct {
	ID, UserID string
	Sealed     []byte
	MediaIDs   []string
	CreatedAt  time.Time
}

// CreateFavorite stores a favorite with its media.
func (q *Queries) CreateFavorite(ctx context.Context, f FavoriteRecord) error {
	if _, err := q.exec(ctx, `INSERT INTO favorites (id, user_id, sealed, created_at) VALUES (?, ?, ?, ?)`, f.ID, f.UserID, f.Sealed, micros(f.CreatedAt)); err != nil {
		return err
	}
	for _, m := range f.MediaIDs {
		if _, err := q.exec(ctx, `INSERT INTO favorite_media (favorite_id, media_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, f.ID, m); err != nil {
			return err
		}
	}
	return nil
}

// CountFavorites counts a person's favorites.
func (q *Queries) CountFavorites(ctx context.Context, userID string) (int, error) {
	var n int
	err := q.row(ctx, `SELECT COUNT(*) FROM favorites WHERE user_id = ?`, userID).Scan(&n)
	return n, err
}

// Favorites lists a person's favorites, newest first.
func (q *Queries) Favorites(ctx context.Context, userID string) ([]FavoriteRecord, error) {
	rows, err := q.query(ctx, `SELECT id, user_id, sealed, created_at FROM favorites WHERE user_id = ? ORDER BY created_at DESC, id DESC`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []FavoriteRecord
	for rows.Next() {
		var f FavoriteRecord
		var at int64
		if err := rows.Scan(&f.ID, &f.UserID, &f.Sealed, &at); err != nil {
			return nil, err
		}
		f.CreatedAt = fromMicros(at)
		out = append(out, f)
	}
	return out, rows.Err()
}

// DeleteFavorite deletes one of userID's favorites and returns the media
// it held (for the caller to delete); found is false for anyone else's.
func (q *Queries) DeleteFavorite(ctx context.Context, userID, id string) (media []string, found bool, err error) {
	media, err = q.strings(ctx, `SELECT fm.media_id FROM favorite_media fm JOIN favorites f ON f.id = fm.favorite_id WHERE f.id = ? AND f.user_id = ?`, id, userID)
	if err != nil {
		return nil, false, err
	}
	res, err := q.exec(ctx, `DELETE FROM favorites WHERE id = ? AND user_id = ?`, id, userID)
	if err != nil {
		return nil, false, err
	}
	n, _ := res.RowsAffected()
	return media, n > 0, nil
}
