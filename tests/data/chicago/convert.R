# Export spatstat.data's `chicago` (an lpp on a linnet) to CSV, once. Run with:
#   Rscript tests/data/chicago/convert.R   (from the repository root; needs Debian's r-cran-spatstat.data)
# Coordinates stay in feet, as in the source; tests/test_evaluate.py converts them to metres.
library(spatstat.data)
data(chicago)
out <- "tests/data/chicago"
d <- unclass(chicago$data)$df
L <- unclass(chicago$domain)
v <- unclass(L$vertices)
w <- unclass(L$window)
stopifnot(w$type == "rectangle", unclass(w$units)$singular == "foot")
write.csv(data.frame(x = d$x, y = d$y, type = d$marks), file.path(out, "crimes.csv"), row.names = FALSE)
write.csv(data.frame(x = v$x, y = v$y), file.path(out, "vertices.csv"), row.names = FALSE)
write.csv(data.frame(from = L$from, to = L$to), file.path(out, "edges.csv"), row.names = FALSE)
write.csv(data.frame(xmin = w$xrange[1], xmax = w$xrange[2], ymin = w$yrange[1], ymax = w$yrange[2]),
          file.path(out, "window.csv"), row.names = FALSE)
