! bucket_model.f90 -- an example "legacy" conceptual rainfall-runoff model for terragrad's
! black-box interface (issue 8). Three buckets, daily time step, hard thresholds
! everywhere, so the model has kinks and flat regions that defeat automatic
! differentiation: the reason it is emulated by a surrogate instead.
!
!   snow bucket   precipitation falls as snow when T < TT (threshold); degree-day melt
!                 DDF * (T - TT) when T > TT, limited by the pack.
!   soil bucket   rain + melt infiltrate; the fraction (SM / FC)**BETA becomes recharge
!                 (nonlinear runoff threshold); what exceeds field capacity FC spills
!                 over (threshold); actual ET = CET * PET * min(1, SM / (LP * FC)),
!                 LP = 0.7. CET corrects the forcing's PET (ERA5-Land PET runs 3-5 times
!                 too high in Caravan), as PET correction factors do in legacy codes.
!   groundwater   linear reservoir drained at K2 * GW, plus quick flow K1 * (GW - UZL)
!                 above the fixed threshold UZL = 20 mm.
!   Q = quick flow + baseflow (mm/day).
!
! Parameters (order, units, ranges used by the surrogate design):
!   1 TT   snow/rain threshold temperature   degC       [-2,    2]
!   2 DDF  degree-day melt factor            mm/degC/d  [ 1,    6]
!   3 FC   field capacity of the soil bucket mm         [50,  500]
!   4 BETA recharge nonlinearity exponent    -          [ 1,    6]
!   5 CET  PET correction factor             -          [0.05, 0.8]
!   6 K1   quick-flow coefficient            1/d        [0.05, 0.5]
!   7 K2   baseflow coefficient              1/d        [0.01, 0.15]
! Forcing per day: P (mm/d), T (degC), PET (mm/d).
! Outputs per day (the first NOUT of): Q (mm/d), SM soil moisture (mm), SWE snow
! pack (mm), GW groundwater store (mm); all after the day's update.
! Initial state: no snow, SM = FC / 2, GW = 10 mm.
!
! Array layout matches C row-major arrays: forcing(nf, T) is C's (T, nf), out(nout, T) is
! C's (T, nout). Error codes: 0 ok, 1 bad sizes, 2 parameters out of their physical
! domain, 3 non-finite forcing.
module bucket_core
  use, intrinsic :: iso_fortran_env, only: dp => real64
  use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
  implicit none
  private
  public :: dp, bucket_run, BUCKET_NP, BUCKET_NF, BUCKET_NOUT_MAX

  integer, parameter :: BUCKET_NP = 7, BUCKET_NF = 3, BUCKET_NOUT_MAX = 4
  real(dp), parameter :: LP = 0.7_dp, UZL = 20.0_dp

contains

  subroutine bucket_run(nt, nf, forcing, np, params, nout, out, ierr)
    integer, intent(in) :: nt, nf, np, nout
    real(dp), intent(in) :: forcing(nf, nt), params(np)
    real(dp), intent(out) :: out(nout, nt)
    integer, intent(out) :: ierr

    real(dp) :: tt, ddf, fc, beta, cet, k1, k2
    real(dp) :: snow, sm, gw, p, ta, pet
    real(dp) :: rain, snowfall, melt, w, recharge, et, qquick, qbase, q
    integer :: t

    ierr = 0
    if (nt < 1 .or. nf /= BUCKET_NF .or. np /= BUCKET_NP .or. nout < 1 &
        .or. nout > BUCKET_NOUT_MAX) then
      ierr = 1
      return
    end if
    tt = params(1); ddf = params(2); fc = params(3); beta = params(4)
    cet = params(5); k1 = params(6); k2 = params(7)
    ! The physical domain, wider than the sampling ranges: a store must not empty itself
    ! more than completely in one day.
    if (.not. all(ieee_is_finite(params)) .or. ddf < 0.0_dp .or. fc <= 0.0_dp &
        .or. beta <= 0.0_dp .or. cet < 0.0_dp .or. k1 < 0.0_dp .or. k2 < 0.0_dp &
        .or. k1 + k2 > 1.0_dp) then
      ierr = 2
      return
    end if

    snow = 0.0_dp
    sm = 0.5_dp * fc
    gw = 10.0_dp
    do t = 1, nt
      p = forcing(1, t); ta = forcing(2, t); pet = forcing(3, t)
      if (.not. (ieee_is_finite(p) .and. ieee_is_finite(ta) .and. ieee_is_finite(pet))) then
        ierr = 3
        return
      end if
      p = max(p, 0.0_dp)
      pet = max(pet, 0.0_dp)

      ! snow bucket: threshold partition, then degree-day melt
      if (ta < tt) then
        snowfall = p
        rain = 0.0_dp
      else
        snowfall = 0.0_dp
        rain = p
      end if
      snow = snow + snowfall
      melt = min(snow, ddf * max(ta - tt, 0.0_dp))
      snow = snow - melt

      ! soil bucket: nonlinear recharge, overflow above field capacity, then ET
      w = rain + melt
      recharge = w * (sm / fc)**beta
      sm = sm + w - recharge
      if (sm > fc) then
        recharge = recharge + (sm - fc)
        sm = fc
      end if
      et = min(cet * pet * min(1.0_dp, sm / (LP * fc)), sm)
      sm = sm - et

      ! groundwater: quick flow above the threshold, linear baseflow
      gw = gw + recharge
      qquick = k1 * max(gw - UZL, 0.0_dp)
      qbase = k2 * gw
      q = qquick + qbase
      gw = gw - q

      out(1, t) = q
      if (nout >= 2) out(2, t) = sm
      if (nout >= 3) out(3, t) = snow
      if (nout >= 4) out(4, t) = gw
    end do
  end subroutine bucket_run

end module bucket_core
