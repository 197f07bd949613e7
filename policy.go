package tkesj

import _ "embed"

// FirstPolicyText is the privacy policy the service ships as version 1.
//
//go:embed policies/1.txt
var FirstPolicyText string

// FirstPolicyVersion is the version string of FirstPolicyText.
const FirstPolicyVersion = "1"

// The policy templates `tkesj init` writes for the operator, in English and
// Simplified Chinese: sections and paragraphs with fields in double braces
// ({{operator_name}}, {{privacy_contact_email}}, {{data_regions}}, ...) that
// the operator must fill before publishing (`tkesj admin policy publish`
// refuses a text with a field left).
//
//go:embed policies/template/en.md
var PolicyTemplateEN string

// PolicyTemplateZH is PolicyTemplateEN in Simplified Chinese.
//
//go:embed policies/template/zh.md
var PolicyTemplateZH string
