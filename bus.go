package tkesj

import (
	"context"
	"io"
)

// Event is something connected clients must hear about: a new message, a
// receipt, a signed-out device. Frame is the WebSocket frame, JSON-encoded
// once by the publisher and sent as is to every recipient connection.
type Event struct {
	// Users are the people whose connections receive Frame.
	Users []string `json:"users"`
	// Frame is the JSON object sent on the WebSocket.
	Frame []byte `json:"frame"`
	// Control, when set, tells nodes to act on connections instead of (or as
	// well as) sending Frame: "close_device" closes the connections of
	// Users[0] on device DeviceIdx; "close_user" closes all of Users[0]'s.
	Control   string `json:"control,omitempty"`
	DeviceIdx []byte `json:"device_idx,omitempty"`
}

// Bus carries events between the nodes of a deployment. With one node it is
// in-process; with several it is NATS JetStream. Every node receives every
// event and delivers it to the connections it holds.
type Bus interface {
	// Publish hands e to every subscriber on every node, in publish order
	// per publisher. It returns once the bus has accepted the event.
	Publish(ctx context.Context, e Event) error
	// Subscribe calls fn for each event published from now on, on one
	// goroutine per subscription; fn must not block for long. The returned
	// function ends the subscription.
	Subscribe(fn func(Event)) (unsubscribe func(), err error)
	// Close releases the bus.
	Close() error
}

// BlobStore keeps media bytes (already sealed by the keyring) under opaque keys.
// Implementations: local disk (default) and S3-compatible object storage.
type BlobStore interface {
	// Put stores r under key, replacing nothing: a key is written once.
	// It returns once the bytes are durable.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get returns the bytes under key, or an *Error of kind ENotFound.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}
