package service

// The names callers used when all of this was one package. They keep
// internal/httpapi, internal/app, internal/bench and the tests unchanged while
// seven branches are merged onto the new layout; new code names the owning
// package (accounts.RegisterInput, compliance.Hold, ...) directly.

import (
	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/accounts"
	"github.com/tkesj/tkesj/internal/compliance"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/media"
	"github.com/tkesj/tkesj/internal/messaging"
	"github.com/tkesj/tkesj/internal/social"
	"github.com/tkesj/tkesj/internal/wire"
)

type (
	Config = kernel.Config
	Auth   = kernel.Auth

	Restriction = kernel.Restriction
	Settings    = tkesj.Settings
	Location    = tkesj.Location

	Decision      = accounts.Decision
	DeviceInput   = accounts.DeviceInput
	LoginInput    = accounts.LoginInput
	RegisterInput = accounts.RegisterInput

	Comment        = social.Comment
	FriendRequest  = social.FriendRequest
	Moment         = social.Moment
	MomentInput    = social.MomentInput
	Profile        = social.Profile
	SettingsUpdate = social.SettingsUpdate

	Conversation  = messaging.Conversation
	GroupPreview  = messaging.GroupPreview
	GroupQR       = messaging.GroupQR
	GroupUpdate   = messaging.GroupUpdate
	JoinRequest   = messaging.JoinRequest
	SendInput     = messaging.SendInput
	Favorite      = messaging.Favorite
	FavoriteInput = messaging.FavoriteInput
	ForwardInput  = messaging.ForwardInput
	MediaInfo     = tkesj.MediaInfo

	Media       = media.Media
	MediaFile   = media.MediaFile
	MediaUpload = media.MediaUpload

	Announcement         = compliance.Announcement
	DestroyInput         = compliance.DestroyInput
	Export               = compliance.Export
	Hold                 = compliance.Hold
	HoldInput            = compliance.HoldInput
	Incident             = compliance.Incident
	IncidentInput        = compliance.IncidentInput
	LegalProcessingInput = compliance.LegalProcessingInput
	ModerationInput      = compliance.ModerationInput
	Permission           = compliance.Permission
	PurgeStats           = compliance.PurgeStats
	Recipient            = compliance.Recipient
	RecipientInput       = compliance.RecipientInput
	Report               = compliance.Report
	RightsRequest        = compliance.RightsRequest
	SharingRecord        = compliance.SharingRecord
	StaffMember          = compliance.StaffMember
	StatCell             = compliance.StatCell
	Statistics           = compliance.Statistics
	Ticket               = compliance.Ticket
)

const (
	RoleSupport        = compliance.RoleSupport
	RoleModerator      = compliance.RoleModerator
	RolePrivacyOfficer = compliance.RolePrivacyOfficer
	RoleAdmin          = compliance.RoleAdmin
)

var (
	ErrCeasing   = compliance.ErrCeasing
	ErasureKept  = compliance.ErasureKept
	LegalGrounds = compliance.LegalGrounds
)

// MessageJSON is messaging.MessageJSON.
func MessageJSON(m messaging.Message) wire.Message { return messaging.MessageJSON(m) }

// IsPermission is accounts.IsPermission.
func IsPermission(name string) bool { return accounts.IsPermission(name) }

// StaffRoles is compliance.StaffRoles.
func StaffRoles() []string { return compliance.StaffRoles() }

// RoleAllows is compliance.RoleAllows.
func RoleAllows(role string, p Permission) bool { return compliance.RoleAllows(role, p) }
