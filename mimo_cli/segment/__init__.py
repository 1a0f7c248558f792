"""--segment: long videos in consecutive parts, each sent as its own request, answers put back together."""
