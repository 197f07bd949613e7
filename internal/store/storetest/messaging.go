package storetest

var messagingCases = []testCase{}
