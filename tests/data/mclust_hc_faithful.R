# mclust's hierarchical partitions of Old Faithful, for tests/engine/test_hc.py. Made with R 4 and mclust 6.0.0:
#   Rscript tests/data/mclust_hc_faithful.R > tests/data/mclust_hc_faithful.csv
# Columns: the row (1..272, R's faithful = tests/data/old_faithful.csv, checked below), then hclass at K = 2..9
# for use = "VARS" (hc's own default, hc(faithful)) and use = "SVD" (what Mclust runs: mclust.options("hcUse")).
suppressMessages(library(mclust))
here <- read.csv("tests/data/old_faithful.csv")[, 2:3]
stopifnot(nrow(here) == 272, max(abs(as.matrix(here) - as.matrix(faithful))) == 0)
vars <- hclass(hc(faithful, modelName = "VVV", use = "VARS"), 2:9)
svd <- hclass(hc(faithful, modelName = "VVV", use = "SVD"), 2:9)
colnames(vars) <- paste0("vars_", 2:9)
colnames(svd) <- paste0("svd_", 2:9)
write.csv(data.frame(row = 1:272, vars, svd), stdout(), row.names = FALSE, quote = FALSE)
