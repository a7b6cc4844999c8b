/* Forbidden page: nothing to load beyond the header. */
