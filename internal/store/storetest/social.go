package storetest

var socialCases = []testCase{}
