package prune

// MaxMeasureBytes lets tests make measureMasked walk one layer at a time.
var MaxMeasureBytes = &maxMeasureBytes
