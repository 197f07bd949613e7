package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/service"
	"github.com/tkesj/tkesj/internal/wire"
)

// selfJSON is API.md's user as that person sees themselves.
func selfJSON(u tkesj.User) wire.User {
	j := wire.User{ID: u.ID, Username: u.Username, Nickname: u.Nickname, Gender: u.Gender, Phone: u.Phone, Status: string(u.Status)}
	if u.AvatarID != "" {
		j.AvatarURL = "/api/v1/users/" + u.ID + "/avatar"
	}
	return j
}

type deviceJSON struct {
	ID         string `json:"id"`
	Model      string `json:"model,omitempty"`
	OS         string `json:"os,omitempty"`
	AppVersion string `json:"app_version,omitempty"`
	Network    string `json:"network,omitempty"`
}

func (d deviceJSON) input() service.DeviceInput {
	return service.DeviceInput{ID: d.ID, Model: d.Model, OS: d.OS, AppVersion: d.AppVersion, Network: d.Network}
}

func (s *server) handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.svc.Ping(ctx); err != nil {
			writeError(w, r, s.log, errorf(tkesj.EUnavailable, "unavailable", "the store does not answer"))
			return
		}
		writeJSON(w, http.StatusOK, wire.Status{Status: "ok"})
	})
}

func (s *server) handlePolicy() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.svc.Policy(r.Context())
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, wire.Policy{Version: p.Version, Major: p.Major, Text: p.Text, PublishedAt: p.PublishedAt.Format(time.RFC3339)})
	})
}

func (s *server) handleRequestCode() http.Handler {
	type request struct {
		Phone   string `json:"phone"`
		Purpose string `json:"purpose"`
	}
	return handleJSON(s, http.StatusAccepted, func(r *http.Request, req request) (any, error) {
		if req.Purpose == tkesj.PurposeChangePhone {
			// A change_phone code is for a signed-in person's new number
			// (R-ACC-6): this public route then needs their token.
			token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			a, err := s.svc.Authenticate(r.Context(), strings.TrimSpace(token))
			if err != nil {
				return nil, err
			}
			if a.PolicyPending {
				return nil, errPolicyPending
			}
			return wire.Accepted{Status: "accepted", ExpiresIn: 300}, s.svc.RequestPhoneChangeCode(r.Context(), a, req.Phone)
		}
		err := s.svc.RequestCode(r.Context(), req.Phone, req.Purpose, clientIP(r))
		return wire.Accepted{Status: "accepted", ExpiresIn: 300}, err
	})
}

func sessionJSON(u tkesj.User, token string) wire.Session {
	return wire.Session{User: selfJSON(u), Token: token}
}

func (s *server) handleRegister() http.Handler {
	type request struct {
		Phone         string     `json:"phone"`
		Code          string     `json:"code"`
		Username      string     `json:"username"`
		Password      string     `json:"password"`
		Nickname      string     `json:"nickname"`
		Gender        string     `json:"gender"`
		PolicyVersion string     `json:"policy_version"`
		BirthDate     string     `json:"birth_date"`
		Device        deviceJSON `json:"device"`
	}
	return handleJSON(s, http.StatusCreated, func(r *http.Request, req request) (any, error) {
		u, token, err := s.svc.Register(r.Context(), service.RegisterInput{
			Phone: req.Phone, Code: req.Code, Username: req.Username, Password: req.Password, Nickname: req.Nickname,
			Gender: req.Gender, PolicyVersion: req.PolicyVersion, BirthDate: req.BirthDate, Device: req.Device.input(), IP: clientIP(r),
		})
		return sessionJSON(u, token), err
	})
}

func (s *server) handleLogin() http.Handler {
	type request struct {
		Login      string     `json:"login"`
		Password   string     `json:"password"`
		Phone      string     `json:"phone"`
		Code       string     `json:"code"`
		StepUpCode string     `json:"step_up_code"`
		Device     deviceJSON `json:"device"`
	}
	return handleJSON(s, http.StatusCreated, func(r *http.Request, req request) (any, error) {
		u, token, err := s.svc.Login(r.Context(), service.LoginInput{
			Login: req.Login, Password: req.Password, Phone: req.Phone, Code: req.Code, StepUpCode: req.StepUpCode, Device: req.Device.input(), IP: clientIP(r),
		})
		return sessionJSON(u, token), err
	})
}

func (s *server) handleLogout() http.Handler {
	return s.handle(http.StatusNoContent, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return nil, s.svc.Logout(r.Context(), authOf(r))
	})
}

func (s *server) handleMe() http.Handler {
	return s.handle(http.StatusOK, func(w http.ResponseWriter, r *http.Request) (any, error) {
		u, err := s.svc.Me(r.Context(), authOf(r))
		if err != nil {
			return nil, err
		}
		// staff_role lets the web client show the staff console without
		// asking /admin/me, which answers 403 (a logged error) for everyone else.
		out := wire.Me{User: selfJSON(u)}
		if st, _, err := s.svc.StaffSelf(r.Context(), authOf(r)); err == nil {
			out.StaffRole = st.Role
		}
		return out, nil
	})
}

func (s *server) handleUpdateMe() http.Handler {
	type request struct {
		Nickname *string `json:"nickname"`
		Gender   *string `json:"gender"`
		Username *string `json:"username"`
	}
	return handleJSON(s, http.StatusOK, func(r *http.Request, req request) (any, error) {
		u, err := s.svc.UpdateMe(r.Context(), authOf(r), tkesj.UserUpdate{Nickname: req.Nickname, Gender: req.Gender, Username: req.Username})
		return selfJSON(u), err
	})
}

func (s *server) handleDestroyAccount() http.Handler {
	type request struct {
		Password string `json:"password"`
		Code     string `json:"code"`
	}
	return handleJSON(s, http.StatusNoContent, func(r *http.Request, req request) (any, error) {
		return nil, s.svc.DestroyAccount(r.Context(), authOf(r), service.DestroyInput{Password: req.Password, Code: req.Code})
	})
}

func (s *server) handleDevices() http.Handler {
	return s.handle(http.StatusOK, func(w http.ResponseWriter, r *http.Request) (any, error) {
		ds, err := s.svc.Devices(r.Context(), authOf(r))
		out := make([]wire.DeviceInfo, 0, len(ds))
		for _, d := range ds {
			out = append(out, wire.DeviceInfo{ID: d.ID, Model: d.Model, OS: d.OS, AppVersion: d.AppVersion, Network: d.Network, LoginIP: d.LoginIP,
				CreatedAt: d.CreatedAt.Format(time.RFC3339), LastSeenAt: d.LastSeenAt.Format(time.RFC3339), Current: d.Current})
		}
		return wire.DeviceList{Devices: out}, err
	})
}

func (s *server) handleSignOutDevice() http.Handler {
	return s.handle(http.StatusNoContent, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return nil, s.svc.SignOutDevice(r.Context(), authOf(r), r.PathValue("id"))
	})
}

func (s *server) handlePermissions() http.Handler {
	return s.handle(http.StatusOK, func(w http.ResponseWriter, r *http.Request) (any, error) {
		p, err := s.svc.Permissions(r.Context(), authOf(r))
		return wire.Permissions{Permissions: p}, err
	})
}

func (s *server) handleSetPermission() http.Handler {
	type request struct {
		Granted *bool `json:"granted"`
	}
	unknown := errorf(tkesj.ENotFound, "unknown_permission", "no permission is called that; use phone_state, storage, album, camera, location or microphone")
	return s.handle(http.StatusOK, func(w http.ResponseWriter, r *http.Request) (any, error) {
		name := r.PathValue("name")
		if !service.IsPermission(name) {
			return nil, unknown // before reading the body: the path is wrong whatever it holds
		}
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		if req.Granted == nil {
			return nil, errorf(tkesj.EInvalid, "missing_field", `send {"granted": true} or {"granted": false}`)
		}
		c, err := s.svc.SetPermission(r.Context(), authOf(r), name, *req.Granted)
		return wire.PermissionState{Name: name, Granted: c.Granted, At: c.At.Format(time.RFC3339Nano)}, err
	})
}

func (s *server) handleConsents() http.Handler {
	return s.handle(http.StatusOK, func(w http.ResponseWriter, r *http.Request) (any, error) {
		cs, err := s.svc.Consents(r.Context(), authOf(r))
		out := make([]wire.Consent, 0, len(cs))
		for _, c := range cs {
			out = append(out, wire.Consent{Kind: c.Kind, Subject: c.Subject, Granted: c.Granted, PolicyVersion: c.PolicyVersion,
				At: c.At.Format(time.RFC3339Nano), Purpose: c.Purpose, Method: c.Method})
		}
		return wire.ConsentList{Consents: out}, err
	})
}
