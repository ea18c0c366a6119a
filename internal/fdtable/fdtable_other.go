//go:build !linux

package fdtable

func reserve(int) int { return 0 }
