package tkesj

import _ "embed"

// FirstPolicyText is the privacy policy the service ships as version 1.
//
//go:embed policies/1.txt
var FirstPolicyText string

// FirstPolicyVersion is the version string of FirstPolicyText.
const FirstPolicyVersion = "1"
