package storetest

var complianceCases = []testCase{}
